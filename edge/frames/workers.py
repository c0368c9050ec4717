"""The frame pipeline's threads: decode, hash and store, below the event loop's priority."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from edge.threads import lower_priority


def frame_executor(threads: int = 2) -> ThreadPoolExecutor:
    """The pool that decodes, hashes and stores frames."""
    return ThreadPoolExecutor(
        max_workers=threads, thread_name_prefix="studylens-frames", initializer=lower_priority
    )
