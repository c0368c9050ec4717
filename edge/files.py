"""The data dir is the student's alone: folders 0700, files 0600, whatever the umask.

Frames, study history, voice recordings, the TLS key and the cloud refresh token live there.
Modes are set explicitly (`chmod` after creating), never left to the umask: a daemon started
from a shell with umask 022 would otherwise make them world-readable. The CLI also sets the
umask to 077 as a second line, for files that libraries create on their own (runtime caches).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from shared.files import write_atomic

DIR_MODE = 0o700
FILE_MODE = 0o600
#: The umask the CLI runs under: nothing it creates is readable by group or others.
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Make `path` a 0700 directory: missing ancestors too, an existing looser one tightened."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by a concurrent writer meanwhile
            folder.mkdir(mode=DIR_MODE)
        _chmod(folder, DIR_MODE)
    _chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Tighten an existing file to 0600 (nothing happens when it does not exist)."""
    with contextlib.suppress(FileNotFoundError):
        _chmod(path, FILE_MODE)


def open_private(path: Path) -> BinaryIO:
    """Open `path` for writing (created or truncated) as a 0600 file."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is masked, and ignored for an existing file
    return os.fdopen(fd, "wb")


def write_private(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace `path` atomically with `data`, mode 0600 in a 0700 folder (fsync if `durable`).

    A crash leaves the old content or the new, never half of either (`shared.files`).
    """
    private_dir(path.parent)
    write_atomic(path, data, mode=FILE_MODE, durable=durable)


def tighten_tree(root: Path) -> None:
    """Make `root` and every folder below it 0700 and every file 0600 (symlinks left alone).

    For a data dir written by an older version or under a looser umask; one `lstat` a file.
    """
    private_dir(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            _tighten(Path(folder, name), stat.S_ISDIR, DIR_MODE)
        for name in files:
            _tighten(Path(folder, name), stat.S_ISREG, FILE_MODE)


def _tighten(path: Path, kind: Callable[[int], bool], mode: int) -> None:
    try:
        found = path.lstat()
    except FileNotFoundError:  # removed while we walked
        return
    if kind(found.st_mode) and stat.S_IMODE(found.st_mode) != mode:
        path.chmod(mode)


def _chmod(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) != mode:
        path.chmod(mode)
