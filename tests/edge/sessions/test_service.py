"""The session lifecycle against a real SQLite store: tracking, idle expiry, restart."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
import sqlite_utils

from edge.errors import SessionNotActive, SessionNotFound, StoreError
from edge.sessions import records
from edge.sessions.stats import session_stats
from tests.support import ACTIVE, ZONE, FakeClock, OpenService

IDLE_AFTER = timedelta(minutes=30)


def stats_of(reader: sqlite_utils.Database, session_id: str, clock: FakeClock) -> dict[str, int]:
    """Seconds per topic of a session, as the analytics read them."""
    result = session_stats(reader, session_id, clock.now(), ZONE)
    return {stat.topic: stat.duration_seconds for stat in result.topic_stats}


async def test_track_on_unknown_session_is_not_found(
    open_service: OpenService, clock: FakeClock
) -> None:
    """Tracking a session that never existed raises SessionNotFound."""
    service = await open_service()
    with pytest.raises(SessionNotFound):
        await service.track("nope", "Math", clock.now(), ACTIVE)


async def test_track_on_ended_session_is_not_active(
    open_service: OpenService, clock: FakeClock
) -> None:
    """Tracking an ended session raises SessionNotActive."""
    service = await open_service()
    started = await service.start()
    await service.end(started.session_id)
    with pytest.raises(SessionNotActive):
        await service.track(started.session_id, "Math", clock.now(), ACTIVE)


async def test_end_closes_the_running_segment_at_the_end(
    open_service: OpenService, clock: FakeClock
) -> None:
    """Time on the last topic runs until the session ends."""
    service = await open_service()
    sid = (await service.start()).session_id
    await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(90)
    await service.track(sid, "Math", clock.now(), ACTIVE)
    clock.advance(45)
    ended = await service.end(sid)
    assert [(s.topic, s.duration_seconds) for s in ended.topic_stats] == [
        ("Biology", 90),
        ("Math", 45),
    ]
    assert ended.total_analyses == 2
    assert ended.duration_seconds == 135


async def test_idle_session_ends_at_its_last_activity(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """After 30 idle minutes a session ends itself, counting no idle time."""
    service = await open_service()
    sid = (await service.start()).session_id
    await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(60)
    await service.track(sid, "Biology", clock.now(), ACTIVE)
    last_activity = clock.now()
    clock.advance(IDLE_AFTER.total_seconds() + 1)
    assert await service.end_idle() == [sid]
    assert not service.is_active(sid)
    result = session_stats(reader, sid, clock.now(), ZONE)
    assert (result.end_reason, result.ended_at) == ("idle", last_activity)
    assert stats_of(reader, sid, clock) == {"Biology": 60}


async def test_session_within_the_idle_limit_keeps_running(
    open_service: OpenService, clock: FakeClock
) -> None:
    """29 quiet minutes are not idle yet."""
    service = await open_service()
    sid = (await service.start()).session_id
    clock.advance(29 * 60)
    assert await service.end_idle() == []
    assert service.is_active(sid)


async def test_touch_postpones_idle_expiry(open_service: OpenService, clock: FakeClock) -> None:
    """A bookmark or help request counts as activity."""
    service = await open_service()
    sid = (await service.start()).session_id
    clock.advance(20 * 60)
    await service.touch(sid)
    clock.advance(20 * 60)
    assert await service.end_idle() == []


async def test_new_session_supersedes_the_running_one(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """Starting again ends the running session at its last activity, so no time counts twice."""
    service = await open_service()
    first = (await service.start()).session_id
    await service.track(first, "English", clock.now(), ACTIVE)
    clock.advance(120)
    await service.track(first, "English", clock.now(), ACTIVE)
    clock.advance(600)
    second = await service.start()
    assert second.superseded_session_ids == [first]
    assert service.active_count == 1
    assert stats_of(reader, first, clock) == {"English": 120}


async def test_restart_rebuilds_running_sessions_and_loses_no_time(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A new service on the same database resumes the running topic where it was."""
    before = await open_service()
    sid = (await before.start()).session_id
    await before.track(sid, "Chemistry", clock.now(), ACTIVE)
    clock.advance(300)
    await before.track(sid, "Chemistry", clock.now(), ACTIVE)
    clock.advance(300)

    after = await open_service()
    assert after.is_active(sid)
    await after.track(sid, "Chemistry", clock.now(), ACTIVE)
    clock.advance(300)
    ended = await after.end(sid)
    [chemistry] = ended.topic_stats
    assert (chemistry.duration_seconds, chemistry.active_count) == (900, 3)


async def test_daily_view_sums_closed_segments_only(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """The daily_topic_stats view is derived from closed segments, never from running ones."""
    service = await open_service()
    sid = (await service.start()).session_id
    await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(100)
    await service.track(sid, "Math", clock.now(), ACTIVE)
    rows = list(reader.query("SELECT topic, duration_seconds FROM daily_topic_stats"))
    assert rows == [{"topic": "Biology", "duration_seconds": 100.0}]


async def test_failed_end_keeps_the_session_running(
    open_service: OpenService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the database refuses the end, the session and its topic keep running in memory."""
    service = await open_service()
    sid = (await service.start()).session_id
    await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(60)

    def refuse(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(records, "finish_session", refuse)
        with pytest.raises(StoreError):
            await service.end(sid)
    assert service.is_active(sid)
    clock.advance(60)
    ended = await service.end(sid)
    assert [(s.topic, s.duration_seconds) for s in ended.topic_stats] == [("Biology", 120)]


async def test_failed_start_leaves_the_running_session_alone(
    open_service: OpenService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the new session cannot be stored, the old one is not superseded."""
    service = await open_service()
    sid = (await service.start()).session_id

    def refuse(*args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(records, "insert_session", refuse)
        with pytest.raises(StoreError):
            await service.start()
    assert service.is_active(sid)
    assert service.active_count == 1


def refuse_event(db: sqlite_utils.Database) -> None:
    """An event write that fails, as a full disk would."""
    raise sqlite3.OperationalError("disk I/O error")


async def test_failed_event_write_stores_no_segment(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """The frame's event and its count are one transaction: a failing event leaves neither."""
    service = await open_service()
    sid = (await service.start()).session_id

    with pytest.raises(StoreError):
        await service.track(sid, "Biology", clock.now(), ACTIVE, refuse_event)

    assert list(reader.query("select id from topic_segments")) == []


async def test_failed_event_write_uncounts_the_frame_in_memory(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A frame whose write failed is not in the totals when the session ends."""
    service = await open_service()
    sid = (await service.start()).session_id
    await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(30)

    with pytest.raises(StoreError):
        await service.track(sid, "Math", clock.now(), ACTIVE, refuse_event)
    ended = await service.end(sid)

    assert (ended.total_analyses, [s.topic for s in ended.topic_stats]) == (1, ["Biology"])
