"""SessionService's contract: listeners, idle limits, activity across restarts, failed writes."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta

import pytest
import sqlite_utils

from edge.errors import SessionNotActive, StoreError
from edge.frames.records import FrameEvent
from edge.frames.records import insert_event as insert_frame_event
from edge.sessions import records
from edge.sessions.service import SessionService
from edge.topics.tracker import FrameFlags
from shared.analysis import FrameAnalysis
from tests.support import (
    ACTIVE,
    AppClient,
    FakeClock,
    OpenService,
    data_of,
    error_of,
    start_session,
)

IDLE_AFTER = timedelta(minutes=30)
PASSIVE = FrameFlags(active=False, distracted=False)
DISTRACTED = FrameFlags(active=False, distracted=True)


def refuse_event(db: sqlite_utils.Database) -> None:
    """An event write that fails, as a full disk would."""
    raise sqlite3.OperationalError("disk I/O error")


Heard = list[tuple[str, str]]


async def listening(open_service: OpenService) -> tuple[SessionService, Heard]:
    """A service whose listener notes every (change, session id) it is told."""
    service = await open_service()
    heard: Heard = []
    service.add_listener(lambda change, session_id: heard.append((change, session_id)))
    return service, heard


# --- listeners ------------------------------------------------------------------------------


async def test_listener_hears_a_session_start(open_service: OpenService) -> None:
    """A listener is told `started` with the new session's id."""
    service, heard = await listening(open_service)

    sid = (await service.start()).session_id

    assert heard == [("started", sid)]


async def test_listener_hears_the_superseded_session_end_before_the_new_start(
    open_service: OpenService,
) -> None:
    """Starting over a running session tells `ended` for the old one, then `started`."""
    service, heard = await listening(open_service)
    first = (await service.start()).session_id

    second = (await service.start()).session_id

    assert heard == [("started", first), ("ended", first), ("started", second)]


async def test_listener_hears_a_session_end(open_service: OpenService) -> None:
    """Ending a session tells `ended` with its id."""
    service, heard = await listening(open_service)
    sid = (await service.start()).session_id

    await service.end(sid)

    assert heard[-1] == ("ended", sid)


async def test_listener_hears_an_idle_session_end(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A session ended for idleness is told as `ended`."""
    service, heard = await listening(open_service)
    sid = (await service.start()).session_id
    clock.advance(IDLE_AFTER.total_seconds() + 1)

    await service.end_idle()

    assert heard[-1] == ("ended", sid)


# --- the current session --------------------------------------------------------------------


async def test_no_current_session_before_any_start(open_service: OpenService) -> None:
    """With no session running, `current()` is None."""
    service = await open_service()

    assert service.current() is None


async def test_require_active_on_an_ended_session_is_not_active(
    open_service: OpenService,
) -> None:
    """A session that ended is reported as not active (409), naming it, not as unknown."""
    service = await open_service()
    sid = (await service.start()).session_id
    await service.end(sid)

    with pytest.raises(SessionNotActive, match=sid):
        await service.require_active(sid)


# --- idleness -------------------------------------------------------------------------------


async def test_session_idle_exactly_the_limit_ends(
    open_service: OpenService, clock: FakeClock
) -> None:
    """Idle for exactly the limit is idle: the session ends."""
    service = await open_service()
    sid = (await service.start()).session_id
    clock.advance(IDLE_AFTER.total_seconds())

    assert await service.end_idle() == [sid]


async def test_frames_keep_a_session_from_idling_across_a_restart(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A frame is stored as activity: after a restart the session is idle from that frame."""
    before = await open_service()
    sid = (await before.start()).session_id
    clock.advance(20 * 60)
    await before.track(sid, "Biology", clock.now(), ACTIVE)

    after = await open_service()
    clock.advance(20 * 60)

    assert await after.end_idle() == []
    assert after.is_active(sid)


async def test_touch_keeps_a_session_from_idling_across_a_restart(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A bookmark or help request is stored as activity, so a restart does not forget it."""
    before = await open_service()
    sid = (await before.start()).session_id
    clock.advance(20 * 60)
    await before.touch(sid)

    after = await open_service()
    clock.advance(20 * 60)

    assert await after.end_idle() == []
    assert after.is_active(sid)


# --- frames and their events ----------------------------------------------------------------


async def test_frame_event_is_stored_with_the_frame(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """The `event` of a tracked frame writes its row in the store's database."""
    service = await open_service()
    sid = (await service.start()).session_id
    analysis = FrameAnalysis(
        is_studying=True,
        is_active=True,
        is_distracted=False,
        topic="Biology",
        subtopic=None,
        extracted_text="",
    )
    event = FrameEvent("event-1", sid, clock.now(), "key-1", "analysed", "openai", analysis)

    await service.track(
        sid, "Biology", clock.now(), ACTIVE, lambda db: insert_frame_event(db, event)
    )

    rows = list(reader.query("SELECT id, session_id FROM learning_events"))
    assert rows == [{"id": "event-1", "session_id": sid}]


async def test_ended_session_reports_passive_and_distracted_frames(
    open_service: OpenService, clock: FakeClock
) -> None:
    """The totals of an ended session count each topic's active, passive and distracted frames."""
    service = await open_service()
    sid = (await service.start()).session_id
    for flags in (ACTIVE, PASSIVE, PASSIVE, DISTRACTED):
        await service.track(sid, "Biology", clock.now(), flags)
        clock.advance(10)
    await service.track(sid, "Math", clock.now(), ACTIVE)

    ended = await service.end(sid)

    biology = next(s for s in ended.topic_stats if s.topic == "Biology")
    assert (biology.active_count, biology.passive_count, biology.distracted_count) == (1, 3, 1)


# --- failed writes --------------------------------------------------------------------------


async def test_failed_first_frame_is_not_counted(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A session's first frame whose write failed counts no topic and no frame at the end."""
    service = await open_service()
    sid = (await service.start()).session_id

    with pytest.raises(StoreError):
        await service.track(sid, "Math", clock.now(), ACTIVE, refuse_event)
    clock.advance(60)
    ended = await service.end(sid)

    assert (ended.topic_stats, ended.total_analyses) == ([], 0)


async def test_after_a_failed_frame_the_earlier_topic_runs_on(
    open_service: OpenService, clock: FakeClock
) -> None:
    """A failed frame of a new topic leaves the earlier topic's segment running: no change."""
    service = await open_service()
    sid = (await service.start()).session_id
    first = await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(30)
    with pytest.raises(StoreError):
        await service.track(sid, "Math", clock.now(), ACTIVE, refuse_event)
    clock.advance(30)

    again = await service.track(sid, "Biology", clock.now(), ACTIVE)

    assert not again.topic_changed
    assert again.running.segment_id == first.running.segment_id


async def test_after_a_failed_end_the_running_topic_runs_on(
    open_service: OpenService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the database refuses the end, the next frame of the same topic continues its segment."""
    service = await open_service()
    sid = (await service.start()).session_id
    first = await service.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(60)

    def refuse(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(records, "finish_session", refuse)
        with pytest.raises(StoreError):
            await service.end(sid)
    again = await service.track(sid, "Biology", clock.now(), ACTIVE)

    assert not again.topic_changed
    assert again.running.segment_id == first.running.segment_id


async def test_failed_start_raced_by_another_start_reports_the_store_error(
    open_service: OpenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start whose write fails raises StoreError even when a second start superseded it."""
    service = await open_service()
    insert = records.insert_session
    calls: list[str] = []

    def fail_first(db: sqlite_utils.Database, session_id: str, day_id: str, at: datetime) -> None:
        calls.append(session_id)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        insert(db, session_id, day_id, at)

    monkeypatch.setattr(records, "insert_session", fail_first)
    failed, started = await asyncio.gather(service.start(), service.start(), return_exceptions=True)

    assert isinstance(failed, StoreError)
    assert not isinstance(started, BaseException)
    assert service.current() == started.session_id


# --- errors over HTTP -----------------------------------------------------------------------


async def test_ending_an_unknown_session_names_it_in_the_error(client: AppClient) -> None:
    """The 404 for an id nobody made says which id it was."""
    error = await error_of(await client.post("/api/session/no-such-session/end"), 404)

    assert "no-such-session" in error["message"]


async def test_ending_an_ended_session_names_it_in_the_error(client: AppClient) -> None:
    """The 409 for a session that already ended says which session it was."""
    session_id = await start_session(client)
    await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    error = await error_of(await client.post(f"/api/session/{session_id}/end"), 409)

    assert session_id in error["message"]
