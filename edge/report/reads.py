"""The weekly report read from the store: day tallies, study days, review logs.

Plain functions on a sqlite-utils db, like `edge.analytics`, so the route (through the store
thread) and the CLI (directly) share them. Running sessions count up to `now`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, tzinfo

import sqlite_utils

from edge.analytics import days_stats
from edge.memory.scheduler import RATING_BY_NUMBER
from edge.report.models import WeeklyReport
from edge.report.weekly import IsoWeek, Review, weekly_report
from edge.sessions import records
from edge.topics.totals import as_of
from shared.clock import from_iso, local_date, start_of_day, to_iso


def study_days(db: sqlite_utils.Database, until: date, now: datetime, zone: tzinfo) -> set[date]:
    """Every local day up to `until` whose study time rounds to at least a second."""
    seconds: dict[date, float] = defaultdict(float)
    rows = db.execute(
        """SELECT local_date, SUM(duration_seconds) AS seconds FROM daily_topic_stats
           WHERE local_date <= ? GROUP BY local_date""",
        [until.isoformat()],
    )
    for row in rows:
        seconds[date.fromisoformat(row["local_date"])] += row["seconds"]
    for piece in as_of(records.running_segments(db), now, zone):
        seconds[piece.day] += piece.seconds
    # Rounded as the totals shown are, so a day the report shows as 0 s is no study day.
    return {day for day, total in seconds.items() if day <= until and round(total) > 0}


def reviews_between(db: sqlite_utils.Database, start: datetime, end: datetime) -> list[Review]:
    """Review-log rows graded in [start, end)."""
    rows = db.execute(
        "SELECT rating, reviewed_at FROM review_logs WHERE reviewed_at >= ? AND reviewed_at < ?",
        [to_iso(start), to_iso(end)],
    )
    return [
        Review(
            reviewed_at=from_iso(row["reviewed_at"]),
            rating=RATING_BY_NUMBER[row["rating"]],
        )
        for row in rows
    ]


def read_weekly_report(
    db: sqlite_utils.Database, week: IsoWeek, now: datetime, zone: tzinfo, goal_minutes: int
) -> WeeklyReport:
    """The report of `week` with the streak as of `now`."""
    today = local_date(now, zone)
    before = week.previous()
    return weekly_report(
        week,
        days_stats(db, week.monday, week.sunday, now, zone),
        days_stats(db, before.monday, before.sunday, now, zone),
        study_days(db, today, now, zone),
        reviews_between(
            db, start_of_day(week.monday, zone), start_of_day(week.next().monday, zone)
        ),
        today=today,
        zone=zone,
        goal_minutes=goal_minutes,
    )
