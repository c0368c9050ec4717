"""The session lifecycle: start, track topics, end (by request, by idleness, by a newer session).

The running topic of each active session lives in memory (`TopicTracker`); every change is
written through the store in the same call, so a restart rebuilds the state from SQLite.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import NoReturn

import sqlite_utils

from edge.errors import SessionNotActive, SessionNotFound
from edge.sessions import records
from edge.sessions.models import SessionEnded, SessionStarted
from edge.sessions.records import SessionRecord
from edge.sessions.stats import session_stats
from edge.store import Store, transaction
from edge.topics.tracker import FrameFlags, Segment, TopicTracker, TrackResult
from shared.clock import Clock, local_date

log = logging.getLogger(__name__)


class SessionService:
    """Owns the running sessions of the edge's student."""

    def __init__(self, store: Store, clock: Clock, zone: tzinfo, idle_after: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone
        self._idle_after = idle_after
        self._tracker = TopicTracker(zone)
        self._active: dict[str, SessionRecord] = {}
        self._user_id = ""
        self._listeners: list[Callable[[str, str], None]] = []

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """Call `listener(change, session_id)` after a session is `started` or `ended`.

        Listeners must not block: the dashboard's event bus is one.
        """
        self._listeners.append(listener)

    def _announce(self, change: str, session_ids: list[str]) -> None:
        for session_id in session_ids:
            for listener in self._listeners:
                try:
                    listener(change, session_id)
                except Exception:
                    log.exception("session listener failed")

    async def load(self) -> None:
        """Rebuild the running state from the store (call once before serving)."""

        def read(db: sqlite_utils.Database) -> tuple[str, list[SessionRecord], list[Segment]]:
            return (
                records.local_user_id(db),
                records.running_sessions(db),
                records.running_segments(db),
            )

        self._user_id, sessions, segments = await self._store.run(read)
        self._active = {record.session_id: record for record in sessions}
        for segment in segments:
            if segment.session_id in self._active:
                self._tracker.restore(segment)
        if sessions:
            log.info("resumed %d running session(s)", len(sessions))

    @property
    def active_count(self) -> int:
        """How many sessions are running."""
        return len(self._active)

    def is_active(self, session_id: str) -> bool:
        """Whether a session is running."""
        return session_id in self._active

    def current(self) -> str | None:
        """The running session, if any (starting one ends the others, so there is one)."""
        return next(iter(self._active), None)

    async def require_active(self, session_id: str) -> None:
        """Raise SessionNotFound or SessionNotActive unless the session is running."""
        if session_id not in self._active:
            await self._raise_not_active(session_id)

    async def start(self) -> SessionStarted:
        """Start a session; a session still running is ended at its last activity first.

        One student studies one thing at a time: two running sessions would count time twice.
        """
        now = self._clock.now()
        superseded = list(self._active.values())
        undo = self._forget(superseded)
        closings = [
            (old, self._tracker.close(old.session_id, old.last_activity_at)) for old in superseded
        ]
        session_id = str(uuid.uuid4())
        day = local_date(now, self._zone)
        self._active[session_id] = SessionRecord(session_id, day, now, now, None, None)

        def write(db: sqlite_utils.Database) -> None:
            with transaction(db):
                for old, pieces in closings:
                    records.save_segments(db, pieces)
                    records.finish_session(db, old.session_id, old.last_activity_at, "superseded")
                day_id = records.ensure_day(db, self._user_id, day, now)
                records.insert_session(db, session_id, day_id, now)

        try:
            await self._store.run(write)
        except Exception:
            self._active.pop(session_id, None)
            undo()
            raise
        self._announce("ended", [old.session_id for old in superseded])
        self._announce("started", [session_id])
        return SessionStarted(
            session_id=session_id,
            started_at=now,
            date=day,
            superseded_session_ids=[old.session_id for old in superseded],
        )

    async def end(self, session_id: str) -> SessionEnded:
        """End a running session now and return its totals."""
        if session_id not in self._active:
            await self._raise_not_active(session_id)
        undo = self._forget([self._active[session_id]])
        now = self._clock.now()
        pieces = self._tracker.close(session_id, now)

        def write(db: sqlite_utils.Database) -> SessionEnded:
            with transaction(db):
                if not records.finish_session(db, session_id, now, "ended"):
                    raise SessionNotFound(session_id)  # forgotten by another process
                records.save_segments(db, pieces)
            stats = session_stats(db, session_id, now, self._zone)
            return SessionEnded(
                session_id=session_id,
                ended_at=now,
                duration_seconds=round((now - stats.started_at).total_seconds()),
                total_analyses=stats.total_analyses,
                topic_stats=stats.topic_stats,
            )

        try:
            ended = await self._store.run(write)
        except SessionNotFound:
            self._announce("ended", [session_id])
            raise
        except Exception:
            undo()
            raise
        self._announce("ended", [session_id])
        return ended

    async def track(
        self,
        session_id: str,
        topic: str | None,
        at: datetime,
        flags: FrameFlags,
        event: Callable[[sqlite_utils.Database], object] | None = None,
    ) -> TrackResult:
        """Record that a frame of a running session showed `topic`, else SessionNotActive.

        `event` writes the frame's own row in the same transaction as the segment it counts in,
        so a stored event is always a counted one. The check and the in-memory count happen
        with no await between them, as `end` forgets a session before queuing its write: a
        frame counted here is in the totals `end` reads, and one after it is refused.
        """
        if session_id not in self._active:
            await self._raise_not_active(session_id)
        record, previous = self._active[session_id], self._tracker.running(session_id)
        result = self._tracker.track(session_id, topic, at, flags)
        self._mark_activity(session_id, result.running.last_seen_at)

        def write(db: sqlite_utils.Database) -> None:
            with transaction(db):
                if not records.touch_session(db, session_id, result.running.last_seen_at):
                    raise SessionNotFound(session_id)  # forgotten by another process
                if event is not None:
                    event(db)
                records.save_segments(db, [*result.closed, result.running])

        try:
            await self._store.run(write)
        except SessionNotFound:
            self.discard({session_id})
            raise
        except Exception:
            # Uncount the frame, unless a later frame or the end has moved on from this state.
            if self._tracker.running(session_id) is result.running:
                self._tracker.close(session_id, at)
                if previous is not None:
                    self._tracker.restore(previous)
                self._active[session_id] = record
            raise
        return result

    async def touch(self, session_id: str) -> None:
        """Note activity (a bookmark, a help request) in a session, if it is running."""
        if session_id not in self._active:
            return
        now = self._clock.now()
        self._mark_activity(session_id, now)
        await self._store.run(lambda db: records.touch_session(db, session_id, now))

    async def end_idle(self) -> list[str]:
        """End every session idle for longer than the limit, at its last activity."""
        cutoff = self._clock.now() - self._idle_after
        idle = [rec for rec in self._active.values() if rec.last_activity_at <= cutoff]
        if not idle:
            return []
        undo = self._forget(idle)
        closings = [
            (rec, self._tracker.close(rec.session_id, rec.last_activity_at)) for rec in idle
        ]

        def write(db: sqlite_utils.Database) -> None:
            with transaction(db):
                for rec, pieces in closings:
                    records.save_segments(db, pieces)
                    records.finish_session(db, rec.session_id, rec.last_activity_at, "idle")

        try:
            await self._store.run(write)
        except Exception:
            undo()
            raise
        ended = [rec.session_id for rec in idle]
        self._announce("ended", ended)
        log.info("ended %d idle session(s): %s", len(ended), ", ".join(ended))
        return ended

    def discard(self, session_ids: set[str]) -> None:
        """Stop running these sessions without ending them: they are being forgotten."""
        gone = [rec for rec in self._active.values() if rec.session_id in session_ids]
        self._forget(gone)
        for rec in gone:
            self._tracker.close(rec.session_id, rec.last_activity_at)
        if gone:
            self._announce("ended", [rec.session_id for rec in gone])

    def _forget(self, sessions: list[SessionRecord]) -> Callable[[], None]:
        """Drop sessions from the running state; return how to put them back.

        Memory changes before the write is queued, so concurrent requests see the new state;
        if the write then fails, the undo keeps memory in step with the database.
        """
        saved = [(rec, self._tracker.running(rec.session_id)) for rec in sessions]
        for rec in sessions:
            self._active.pop(rec.session_id, None)

        def undo() -> None:
            for rec, running in saved:
                self._active[rec.session_id] = rec
                if running is not None:
                    self._tracker.restore(running)

        return undo

    def _mark_activity(self, session_id: str, at: datetime) -> None:
        record = self._active[session_id]
        if at > record.last_activity_at:
            self._active[session_id] = replace(record, last_activity_at=at)

    async def _raise_not_active(self, session_id: str) -> NoReturn:
        found = await self._store.run(lambda db: records.get_session(db, session_id))
        if found is None:
            raise SessionNotFound(session_id)
        raise SessionNotActive(session_id)
