"""Topic analytics read from the store: per day, per week, the latest sessions.

Plain functions on a sqlite-utils db, so the HTTP routes (through the store thread) and the CLI
(directly) share them. Running segments count up to `now`. One session's totals are the
session's own (`edge.sessions.stats`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

import sqlite_utils

from edge.sessions import records
from edge.sessions.stats import session_tally
from edge.topics.totals import Tally, as_of
from shared.clock import local_date
from shared.schemas import DayTopicStats, SessionSummary, WeeklyTopicStats

WEEK_DAYS = 7


def days_stats(
    db: sqlite_utils.Database, first: date, last: date, now: datetime, zone: tzinfo
) -> dict[date, Tally]:
    """Tally each day from `first` to `last`, including running sessions."""
    tallies = {first + timedelta(days=n): Tally() for n in range((last - first).days + 1)}
    rows = db.execute(
        """SELECT local_date, topic, duration_seconds, active_count, passive_count,
                  distracted_count
           FROM daily_topic_stats WHERE local_date BETWEEN ? AND ?""",
        [first.isoformat(), last.isoformat()],
    )
    for row in rows:
        tallies[date.fromisoformat(row["local_date"])].add(
            row["topic"],
            row["duration_seconds"],
            row["active_count"],
            row["passive_count"],
            row["distracted_count"],
        )
    for piece in as_of(records.running_segments(db), now, zone):
        if piece.day in tallies:
            tallies[piece.day].add_segments([piece])
    return tallies


def _day(day: date, tally: Tally) -> DayTopicStats:
    return DayTopicStats(
        date=day,
        total_seconds=tally.total_seconds,
        total_analyses=tally.total_frames,
        topic_stats=tally.stats(),
    )


def day_stats(db: sqlite_utils.Database, day: date, now: datetime, zone: tzinfo) -> DayTopicStats:
    """Topic totals of one local day."""
    return _day(day, days_stats(db, day, day, now, zone)[day])


def today_stats(db: sqlite_utils.Database, now: datetime, zone: tzinfo) -> DayTopicStats:
    """Topic totals of the student's today, the running session included."""
    return day_stats(db, local_date(now, zone), now, zone)


def week_stats(db: sqlite_utils.Database, now: datetime, zone: tzinfo) -> WeeklyTopicStats:
    """The last seven local days, today included, with a breakdown per day."""
    last = local_date(now, zone)
    first = last - timedelta(days=WEEK_DAYS - 1)
    tallies = days_stats(db, first, last, now, zone)
    week = Tally()
    for tally in tallies.values():
        week.merge(tally)
    return WeeklyTopicStats(
        from_date=first,
        to_date=last,
        total_seconds=week.total_seconds,
        topic_stats=week.stats(),
        days=[_day(day, tally) for day, tally in sorted(tallies.items())],
    )


def recent_sessions(
    db: sqlite_utils.Database, now: datetime, zone: tzinfo, limit: int = 20
) -> list[SessionSummary]:
    """The latest sessions with their totals, newest first."""
    out = []
    for session in records.recent_sessions(db, limit):
        tally = session_tally(db, session.session_id, now, zone)
        out.append(
            SessionSummary(
                session_id=session.session_id,
                date=session.day,
                started_at=session.started_at,
                ended_at=session.ended_at,
                end_reason=session.end_reason,
                total_seconds=tally.total_seconds,
                total_analyses=tally.total_frames,
            )
        )
    return out
