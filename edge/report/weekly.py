"""The weekly report computed from plain data: ISO weeks, goals, streaks, distraction, recall.

Pure logic, no I/O: `edge.report.reads` gathers the day tallies and review logs it is given.
Weeks are ISO weeks (Monday to Sunday) of the student's local dates.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from edge.errors import InvalidWeek
from edge.report.models import DistractedTopic, GoalDay, Recall, TopicWeek, WeeklyReport
from edge.topics.totals import Tally
from shared.clock import local_date
from shared.memory import RECALLED

_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week: `2026-W48` runs from Monday 23 to Sunday 29 November 2026."""

    year: int
    week: int

    def __post_init__(self) -> None:
        # Week 53 exists only in some years; fromisocalendar knows which.
        date.fromisocalendar(self.year, self.week, 1)

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        """The week `day` falls in."""
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Read `YYYY-Www`; ValueError for any other shape or a week that does not exist."""
        found = _WEEK.fullmatch(text)
        if found is None:
            raise ValueError(text)
        week = cls(int(found[1]), int(found[2]))
        try:
            week.previous()  # the report compares with it, so it must exist too
        except OverflowError as exc:
            raise ValueError(text) from exc
        return week

    @property
    def monday(self) -> date:
        """Its first day."""
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        """Its last day."""
        return self.monday + timedelta(days=6)

    def days(self) -> list[date]:
        """Its seven days, Monday first."""
        return [self.monday + timedelta(days=n) for n in range(7)]

    def previous(self) -> IsoWeek:
        """The week before."""
        return IsoWeek.containing(self.monday - timedelta(days=7))

    def next(self) -> IsoWeek:
        """The week after."""
        return IsoWeek.containing(self.monday + timedelta(days=7))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"


def week_asked(text: str | None, today: date) -> IsoWeek:
    """The week a caller named (`YYYY-Www`), this week when none; InvalidWeek otherwise."""
    current = IsoWeek.containing(today)
    if text is None:
        return current
    try:
        week = IsoWeek.parse(text)
    except ValueError as exc:
        raise InvalidWeek(f"week must be an ISO week as YYYY-Www, not {text!r}.") from exc
    if week > current:
        raise InvalidWeek(f"week {text} has not begun yet; this week is {current}.")
    return week


@dataclass(frozen=True)
class Review:
    """One grade of a review card, as the review log keeps it."""

    reviewed_at: datetime
    rating: str


def merged(tallies: Iterable[Tally]) -> Tally:
    """One tally of several (the days of a week)."""
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def topic_weeks(this: Tally, before: Tally) -> list[TopicWeek]:
    """Every topic studied in either week, most time this week first, then the week before."""
    now = {stat.topic: stat.duration_seconds for stat in this.stats()}
    then = {stat.topic: stat.duration_seconds for stat in before.stats()}
    rows = [
        TopicWeek(topic=topic, seconds=now.get(topic, 0), previous_seconds=then.get(topic, 0))
        for topic in now.keys() | then.keys()
    ]
    rows = [row for row in rows if row.seconds or row.previous_seconds]
    return sorted(rows, key=lambda row: (-row.seconds, -row.previous_seconds, row.topic))


def goal_days(days: Mapping[date, Tally], goal_minutes: int) -> list[GoalDay]:
    """Each day in date order, met when its study time reaches the goal (exactly is enough)."""
    return [
        GoalDay(
            date=day, seconds=tally.total_seconds, goal_met=tally.total_seconds >= goal_minutes * 60
        )
        for day, tally in sorted(days.items())
    ]


def streak(study_days: Collection[date], today: date) -> tuple[int, date | None]:
    """Consecutive study days ending today, or yesterday while today has none yet; its last day."""
    last = today if today in study_days else today - timedelta(days=1)
    count = 0
    while last - timedelta(days=count) in study_days:
        count += 1
    return count, (last if count else None)


def most_distracted(week: Tally) -> list[DistractedTopic]:
    """Topics with distracted frames, the most first; ties by the larger share, then by name."""
    rows = [
        DistractedTopic(
            topic=stat.topic,
            distracted_frames=stat.distracted_count,
            frames=stat.active_count + stat.passive_count,
        )
        for stat in week.stats()
        if stat.distracted_count
    ]
    return sorted(
        rows,
        key=lambda row: (
            -row.distracted_frames,
            -row.distracted_frames / max(row.frames, 1),
            row.topic,
        ),
    )


def recall(reviews: Iterable[Review], week: IsoWeek, zone: tzinfo) -> Recall:
    """Reviews graded on the week's local days, and how many of them were remembered."""
    inside = [r for r in reviews if week.monday <= local_date(r.reviewed_at, zone) <= week.sunday]
    recalled = sum(r.rating in RECALLED for r in inside)
    return Recall(
        reviewed=len(inside),
        recalled=recalled,
        share=recalled / len(inside) if inside else None,
    )


def weekly_report(
    week: IsoWeek,
    days: Mapping[date, Tally],
    previous_days: Mapping[date, Tally],
    study_days: Collection[date],
    reviews: Iterable[Review],
    *,
    today: date,
    zone: tzinfo,
    goal_minutes: int,
) -> WeeklyReport:
    """The report of `week`: `days` are its tallies, `study_days` every day with time."""
    this, before = merged(days.values()), merged(previous_days.values())
    goals = goal_days({day: days.get(day, Tally()) for day in week.days()}, goal_minutes)
    streak_days, streak_until = streak(study_days, today)
    return WeeklyReport(
        week=str(week),
        from_date=week.monday,
        to_date=week.sunday,
        previous_week=str(week.previous()),
        next_week=str(week.next()) if week < IsoWeek.containing(today) else None,
        goal_minutes_per_day=goal_minutes,
        total_seconds=this.total_seconds,
        previous_total_seconds=before.total_seconds,
        topics=topic_weeks(this, before),
        days=goals,
        goal_days_met=sum(day.goal_met for day in goals),
        streak_days=streak_days,
        streak_until=streak_until,
        distracted=most_distracted(this),
        recall=recall(reviews, week, zone),
    )
