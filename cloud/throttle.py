"""Fixed-window request counters kept in the database, so every API process counts the same."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Base, RateWindow
from cloud.errors import RateLimited
from shared.clock import Clock

#: Longest window any limit uses; purge drops windows older than this.
MAX_WINDOW = timedelta(days=1)


async def insert_missing(db: AsyncSession, table: type[Base], **row: object) -> None:
    """Insert `row` unless its key exists (a racing request may insert it first)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    await db.execute(dialect.insert(table).values(**row).on_conflict_do_nothing())


class RequestThrottle:
    """Counts requests per key in fixed windows; refuses those past the limit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def hit(self, key: str, limit: int, window: timedelta, what: str) -> None:
        """Count one request of `key`; `RateLimited` once more than `limit` fell in its window."""
        now = self._clock.now()
        key = key[:128]
        async with self._sessions.begin() as db:
            await insert_missing(db, RateWindow, key=key, window_start=now, count=0)
            row = await db.get(RateWindow, key, with_for_update=True, populate_existing=True)
            assert row is not None  # noqa: S101 - inserted above
            if not _within(row.window_start, now, window):
                row.window_start, row.count = now, 0
            row.count += 1
            over = row.count > limit
            retry_after = (row.window_start + window - now).total_seconds()
        if over:
            raise RateLimited(
                f"Too many {what} from this address; try again in {retry_after:.0f} s.",
                retry_after,
            )


def _within(start: datetime, now: datetime, window: timedelta) -> bool:
    # A start in the future (another process's clock ran ahead) opens a new window too.
    return start <= now < start + window
