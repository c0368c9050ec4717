"""The session and segment rows as records reads them back: recent sessions, days, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from edge.sessions import records
from edge.sessions.service import SessionService
from edge.store import Store, open_database
from edge.topics.tracker import FrameFlags
from tests.support import ACTIVE, ZONE, FakeClock, berlin

PASSIVE = FrameFlags(active=False, distracted=False)
DISTRACTED = FrameFlags(active=False, distracted=True)


@pytest.fixture
async def service(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SessionService]:
    """A session service on a fresh database."""
    store = Store(tmp_path / "studylens.db")
    await store.open()
    sessions = SessionService(store, clock, ZONE, timedelta(minutes=30))
    await sessions.load()
    yield sessions
    await store.close()


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A second connection to the same database, reading as the CLI and dashboard do."""
    db = open_database(tmp_path / "studylens.db")
    yield db
    db.close()


async def test_recent_sessions_are_the_newest_first_up_to_the_limit(
    service: SessionService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """`recent_sessions(db, 2)` gives the two latest sessions, the latest first."""
    started = []
    for _ in range(3):
        started.append((await service.start()).session_id)
        clock.advance(60)

    recent = records.recent_sessions(reader, 2)

    assert [s.session_id for s in recent] == [started[2], started[1]]


async def test_session_reads_back_as_it_ran(
    service: SessionService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """A session started after local midnight reads back with its local day, end and reason."""
    clock.current = berlin("2026-11-25 00:30")
    sid = (await service.start()).session_id
    clock.advance(600)
    await service.end(sid)

    [session] = records.recent_sessions(reader, 1)

    assert (session.session_id, session.day, session.started_at) == (
        sid,
        date(2026, 11, 25),
        berlin("2026-11-25 00:30"),
    )
    assert (session.ended_at, session.end_reason) == (berlin("2026-11-25 00:40"), "ended")


async def test_running_segment_reads_back_as_the_tracker_made_it(
    service: SessionService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """A stored running segment reads back equal: id, local day, times and every frame count."""
    clock.current = berlin("2026-11-25 00:30")
    sid = (await service.start()).session_id
    result = None
    for flags in (ACTIVE, PASSIVE, PASSIVE, DISTRACTED):
        result = await service.track(sid, "Biology", clock.now(), flags)
        clock.advance(10)
    assert result is not None

    assert records.session_segments(reader, sid) == [result.running]
