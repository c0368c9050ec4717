"""The async engine and session factory, for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    """Whether `url` names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; the busy timeout makes writers queue rather
    # than fail when two requests write at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see below).
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails with SQLITE_BUSY when another
    # writer committed in between (WAL snapshots); taking the write lock up front makes writers
    # queue on the busy timeout instead, the nearest SQLite has to a row lock.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class RotatingPassword(Protocol):
    """A database password that can change under us (RDS rotates its managed secret)."""

    @property
    def current(self) -> str:
        """The password as last read."""
        ...

    def refresh(self) -> None:
        """Read it again (blocking: the engine calls it in a thread)."""
        ...


def _rotating_connector(url: str, password: RotatingPassword) -> Any:
    """Connect with the current password; refused as wrong, read it again and retry once.

    So connections keep opening after the secret rotates, without a restart and without a
    read of the secret per connection.
    """
    import asyncpg  # type: ignore[import-untyped]

    parsed = make_url(url)

    async def connect() -> Any:
        def attempt() -> Any:
            return asyncpg.connect(
                host=parsed.host,
                port=parsed.port,
                user=parsed.username,
                database=parsed.database,
                password=password.current,
            )

        try:
            return await attempt()
        except asyncpg.InvalidPasswordError:
            await asyncio.to_thread(password.refresh)
            return await attempt()

    return connect


def make_engine(
    url: str, *, pool_size: int = 10, password: RotatingPassword | None = None
) -> AsyncEngine:
    """An engine for `url`; SQLite gets its pragmas, PostgreSQL a bounded pool.

    With `password`, PostgreSQL connections use it (not the URL's) and follow its rotation.
    """
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_autocommit_driver)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    options: dict[str, Any] = {}
    if password is not None:
        options["async_creator"] = _rotating_connector(url, password)
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        **options,
    )


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory every service uses; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
