"""Pause: the student's privacy switch. While paused, nothing is captured, stored or sent.

The state is one row in SQLite (`privacy_pause`), so a restart stays paused, and every check
compares the clock's now with the end time, so a pause ends by itself without a timer. The
functions on a database are the seam the daemon (through `PauseService`) and the CLI share.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated

import sqlite_utils
from pydantic import ConfigDict, Field

from edge.errors import EdgeError, InvalidRequest
from edge.store import Store
from shared.clock import Clock, from_iso, to_iso
from shared.schemas import RequestModel, Timestamp, WireModel

log = logging.getLogger(__name__)

#: The longest timed pause: a day. Longer is a pause until the student resumes (`minutes: null`).
MAX_MINUTES = 24 * 60

Minutes = Annotated[int, Field(strict=True, ge=1, le=MAX_MINUTES)]


class Paused(EdgeError):
    """Capture is paused: frames and voice are refused until the pause ends."""

    http_status = 423
    code = "paused"


class PauseRequest(RequestModel):
    """`POST /api/privacy/pause`: for how many minutes (1 to 1440), or null until resumed."""

    # A typo ("minute") must not turn a 15-minute pause into an endless one.
    model_config = ConfigDict(extra="forbid")

    minutes: Minutes | None


class ResumeRequest(RequestModel):
    """`POST /api/privacy/resume`: no fields (an empty body is fine)."""

    model_config = ConfigDict(extra="forbid")


class PauseState(WireModel):
    """Whether capture is paused, since when, and until when (null: until resumed)."""

    paused: bool
    since: Timestamp | None = None
    ends_at: Timestamp | None = None

    def describe(self) -> str:
        """For the log: `paused until <UTC time>`, `paused until resumed` or `not paused`."""
        if not self.paused:
            return "not paused"
        if self.ends_at is None:
            return "paused until resumed"
        return f"paused until {to_iso(self.ends_at)}"


NOT_PAUSED = PauseState(paused=False)


def pause_end(now: datetime, minutes: int | None) -> datetime | None:
    """When a pause of `minutes` started `now` ends (None: never by itself)."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
        raise InvalidRequest(f"minutes must be a whole number from 1 to {MAX_MINUTES}, or null.")
    return now + timedelta(minutes=minutes)


# --- the store seam ---------------------------------------------------------------------------


def read_state(db: sqlite_utils.Database, now: datetime) -> PauseState:
    """The pause in force at `now` (a stored pause whose end has passed is none)."""
    row = db.execute("SELECT started_at, ends_at FROM privacy_pause WHERE id = 1").fetchone()
    if row is None:
        return NOT_PAUSED
    ends_at = from_iso(row["ends_at"]) if row["ends_at"] is not None else None
    if ends_at is not None and now >= ends_at:
        return NOT_PAUSED
    return PauseState(paused=True, since=from_iso(row["started_at"]), ends_at=ends_at)


def write_pause(db: sqlite_utils.Database, now: datetime, minutes: int | None) -> PauseState:
    """Pause from `now` for `minutes` (None: until resumed); a pause in force keeps its start."""
    ends_at = pause_end(now, minutes)
    current = read_state(db, now)
    since = current.since if current.paused and current.since is not None else now
    db.execute(
        "INSERT INTO privacy_pause (id, started_at, ends_at) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,"
        " ends_at = excluded.ends_at",
        [to_iso(since), to_iso(ends_at) if ends_at is not None else None],
    )
    return PauseState(paused=True, since=since, ends_at=ends_at)


def clear_pause(db: sqlite_utils.Database) -> None:
    """End any pause (a no-op when none is on)."""
    db.execute("DELETE FROM privacy_pause")


# --- in the daemon ----------------------------------------------------------------------------

Listener = Callable[[PauseState], Awaitable[None]]


class PauseService:
    """The daemon's view of the pause: checks for the hot paths, and changes told to listeners.

    The state is read from the database at each check, so a pause set by the CLI holds for the
    very next frame; `check` (run every second by the daemon, and after each change made here)
    tells the listeners (voice sockets, the dashboard's events) when it began, moved or ended.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Listener] = []
        self._told = NOT_PAUSED
        self._lock = asyncio.Lock()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(state)` whenever the pause begins, changes or ends."""
        self._listeners.append(listener)

    async def state(self) -> PauseState:
        """The pause in force now."""
        now = self._clock.now()
        return await self._store.run(lambda db: read_state(db, now))

    async def require_unpaused(self) -> None:
        """Raise `Paused` (423) while a pause is on."""
        state = await self.state()
        if state.paused:
            until = f"until {to_iso(state.ends_at)}" if state.ends_at else "until resumed"
            raise Paused(f"Capture is paused {until}; nothing is stored or sent.")

    async def pause(self, minutes: int | None) -> PauseState:
        """Pause for `minutes` from now (None: until resumed), and tell the listeners."""
        now = self._clock.now()
        state = await self._store.run(lambda db: write_pause(db, now, minutes))
        log.info("capture paused (%s)", state.describe())
        await self.check()
        return state

    async def resume(self) -> PauseState:
        """End the pause (fine when none is on), and tell the listeners."""
        await self._store.run(clear_pause)
        log.info("capture resumed")
        await self.check()
        return NOT_PAUSED

    async def check(self) -> PauseState:
        """Read the state; if it differs from what the listeners last heard, tell them."""
        async with self._lock:
            state = await self.state()
            if state == self._told:
                return state
            self._told = state
            for listener in self._listeners:
                try:
                    await listener(state)
                except Exception:  # one listener failing must not keep the others uninformed
                    log.exception("pause listener failed")
            return state
