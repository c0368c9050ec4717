"""The weekly report read from a real SQLite store: study time, running sessions, review logs."""

from __future__ import annotations

from datetime import date

import sqlite_utils

from edge.memory import review
from edge.memory.scheduler import Scheduler
from edge.report.reads import read_weekly_report, study_days
from edge.report.weekly import IsoWeek
from edge.sessions.service import SessionService
from edge.topics.tracker import FrameFlags
from shared.clock import to_iso
from shared.memory import Rating
from tests.support import ACTIVE, ZONE, FakeClock, OpenService, berlin

DISTRACTED = FrameFlags(active=False, distracted=True)
W48 = IsoWeek(2026, 48)


async def studied(
    service: SessionService, clock: FakeClock, at: str, topic: str, seconds: float
) -> None:
    """One ended session at Berlin time `at` spending `seconds` on `topic`."""
    clock.current = berlin(at)
    session_id = (await service.start()).session_id
    await service.track(session_id, topic, clock.now(), ACTIVE)
    clock.advance(seconds)
    await service.end(session_id)


async def test_study_days_include_the_running_session_today(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """An ended session two days ago and one running now: both days count, the gap does not."""
    service = await open_service()
    await studied(service, clock, "2026-11-23 18:00", "Math", 600)
    clock.current = berlin("2026-11-25 10:00")
    session_id = (await service.start()).session_id
    await service.track(session_id, "Biology", clock.now(), ACTIVE)
    clock.advance(120)

    days = study_days(reader, date(2026, 11, 25), clock.now(), ZONE)

    assert days == {date(2026, 11, 23), date(2026, 11, 25)}


async def test_the_report_compares_topics_with_the_week_before(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """Math in both weeks, History only the week before."""
    service = await open_service()
    await studied(service, clock, "2026-11-17 18:00", "Math", 900)
    await studied(service, clock, "2026-11-18 18:00", "History", 300)
    await studied(service, clock, "2026-11-24 18:00", "Math", 1800)
    clock.current = berlin("2026-11-25 10:00")

    found = read_weekly_report(reader, W48, clock.now(), ZONE, goal_minutes=30)

    assert [(t.topic, t.seconds, t.previous_seconds) for t in found.topics] == [
        ("Math", 1800, 900),
        ("History", 0, 300),
    ]
    assert (found.goal_days_met, found.streak_days) == (1, 1)


async def test_the_report_names_the_topic_distracted_most(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """Distracted frames seen on a topic this week are counted against that topic."""
    service = await open_service()
    clock.current = berlin("2026-11-24 18:00")
    session_id = (await service.start()).session_id
    await service.track(session_id, "Chemistry", clock.now(), ACTIVE)
    for _ in range(2):
        clock.advance(60)
        await service.track(session_id, "Chemistry", clock.now(), DISTRACTED)
    await service.end(session_id)
    clock.current = berlin("2026-11-25 10:00")

    found = read_weekly_report(reader, W48, clock.now(), ZONE, goal_minutes=30)

    assert [(d.topic, d.distracted_frames, d.frames) for d in found.distracted] == [
        ("Chemistry", 2, 3)
    ]


def test_with_no_review_logged_nothing_was_reviewed(
    reader: sqlite_utils.Database, clock: FakeClock
) -> None:
    """No card graded yet: 0 reviewed and no share (null, not 0 %)."""
    found = read_weekly_report(reader, W48, clock.now(), ZONE, goal_minutes=30)

    assert (found.recall.reviewed, found.recall.recalled, found.recall.share) == (0, 0, None)


def graded(
    reader: sqlite_utils.Database, session_id: str, grades: list[tuple[str, Rating]]
) -> None:
    """One card of the session, graded through the review service at each Berlin time."""
    made = to_iso(berlin("2026-11-01 10:00"))
    reader.execute(
        """INSERT INTO cards (id, session_id, topic_id, kind, question, question_key, answer,
                              maker, created_at, state, step, due)
           VALUES ('card', ?, (SELECT id FROM topics WHERE name = 'Biology'), 'qa', 'Q?', 'q',
                   'A', 'test', ?, 1, 0, ?)""",
        [session_id, made, made],
    )
    scheduler = Scheduler()
    for at, rating in grades:
        review.grade(reader, scheduler, "card", rating, berlin(at), ZONE)


async def test_review_logs_of_the_local_week_count(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """Grades from Monday 00:30 Berlin (Sunday UTC) on count, `again` as forgotten."""
    service = await open_service()
    session_id = (await service.start()).session_id
    graded(
        reader,
        session_id,
        [
            ("2026-11-22 23:30", "good"),  # the Sunday before
            ("2026-11-23 00:30", "again"),
            ("2026-11-24 12:00", "hard"),
            ("2026-11-25 09:00", "easy"),
            ("2026-11-25 09:30", "again"),
        ],
    )

    found = read_weekly_report(reader, W48, clock.now(), ZONE, goal_minutes=30)

    assert (found.recall.reviewed, found.recall.recalled, found.recall.share) == (4, 2, 0.5)


async def test_a_session_begun_this_moment_is_no_study_day_yet(
    open_service: OpenService, clock: FakeClock, reader: sqlite_utils.Database
) -> None:
    """Today counts once it has time: a session started now has none."""
    service = await open_service()
    session_id = (await service.start()).session_id
    await service.track(session_id, "Biology", clock.now(), ACTIVE)

    assert study_days(reader, date(2026, 11, 25), clock.now(), ZONE) == set()
