"""Atomic file replacement: the one copy both sides use.

The edge's originals and link file, and the cloud's object folder, are written through it.
Blocking: call it from a thread (`asyncio.to_thread`, the store thread), never on the loop.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(
    path: Path, data: bytes, *, mode: int | None = None, durable: bool = False
) -> None:
    """Replace `path` with `data`: write a temporary file beside it, then rename it over.

    A reader, or a crash, sees the old content or the new, never half of either. `mode` is set
    on the temporary file before any byte is written (not left to the umask); `durable` fsyncs
    the file and then its folder, so the rename itself survives a power cut. The folder must
    exist.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
