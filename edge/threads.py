"""Worker threads below the event loop's priority, for CPU work beside it.

On a 2-core Pi the voice relay's event loop and a 12 MP decode or an OCR pass compete for the
CPU; with the worker threads niced, the loop wakes on time (measured: event-loop lag p99 with
four voice streams and uploads; see BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

#: Added niceness of the worker threads (0 keeps the loop's priority).
NICENESS = 10


def lower_priority() -> None:
    """Nice the calling thread (threads it starts later inherit the niceness on Linux)."""
    try:
        # Linux applies PRIO_PROCESS with a thread id to that thread alone.
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICENESS)
    except OSError as exc:  # e.g. a seccomp filter without setpriority: run at normal priority
        log.debug("worker threads keep normal priority: %s", exc)
