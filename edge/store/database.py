"""Opening the SQLite database, and `Store`: the one thread through which the daemon uses it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from edge.errors import StoreError
from edge.files import FILE_MODE, private_dir, private_file, tighten_tree
from edge.store.migrations import migrate

T = TypeVar("T")


def open_database(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`, migrated to the current schema.

    The connection is in autocommit mode; writes that belong together use `transaction`.
    It may only be used from the thread that opened it. Its folder is made 0700, the file 0600.
    """
    private_dir(path.parent)
    # SQLite makes -wal, -shm and -journal with the database file's mode, and would make the
    # file itself 0644 under umask 022: it must exist as 0600 before the first connection.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(path.with_name(path.name + suffix))
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.row_factory = sqlite3.Row
    db = sqlite_utils.Database(conn)
    # WAL lets the CLI read while the daemon writes; NORMAL sync is durable across app crashes
    # (only an OS crash can lose the last commits), which is the usual trade-off with WAL.
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    migrate(db)
    return db


class Store:
    """The daemon's database, used from one dedicated thread so the event loop never blocks.

    One thread also means one writer: SQLite allows no more, and queuing here is cheaper than
    retrying on `SQLITE_BUSY`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studylens-store")
        self._db: sqlite_utils.Database | None = None

    async def open(self) -> None:
        """Make the data dir private, then open and migrate the database, on the store thread.

        The whole dir is walked once (files of older versions or looser umasks are tightened);
        the CLI's quick reads only tighten the database's own files.
        """

        def open_() -> sqlite_utils.Database:
            tighten_tree(self.path.parent)
            return open_database(self.path)

        self._db = await self._submit(open_)

    async def run(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `work(db)` on the store thread and return its result."""
        db = self._db
        if db is None:
            raise StoreError("The database is not open.")
        try:
            return await self._submit(lambda: work(db))
        except sqlite3.Error as exc:
            raise StoreError(f"The local database failed: {exc}.") from exc

    async def close(self) -> None:
        """Close the connection and stop the thread, after queued work has run."""
        db, self._db = self._db, None
        if db is not None:
            await self._submit(db.close)
        self._executor.shutdown(wait=True)

    async def _submit(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)
