"""Wire models of the weekly report; seconds are whole seconds, dates the student's local ones."""

from __future__ import annotations

from datetime import date

from shared.schemas import WireModel


class TopicWeek(WireModel):
    """One topic's time this week and the week before."""

    topic: str
    seconds: int
    previous_seconds: int


class GoalDay(WireModel):
    """One day of the week, its study time and whether it reached the goal."""

    date: date
    seconds: int
    goal_met: bool


class DistractedTopic(WireModel):
    """A topic the student drifted from: distracted frames among all frames seen on it."""

    topic: str
    distracted_frames: int
    frames: int


class Recall(WireModel):
    """Cards reviewed in the week; `share` is recalled / reviewed, null when none were."""

    reviewed: int
    recalled: int
    share: float | None


class WeeklyReport(WireModel):
    """One ISO week (Monday to Sunday) of study, with the streak as of today."""

    week: str
    from_date: date
    to_date: date
    previous_week: str
    #: Null for the current week: a report of days still to come says nothing.
    next_week: str | None
    goal_minutes_per_day: int
    total_seconds: int
    previous_total_seconds: int
    topics: list[TopicWeek]
    days: list[GoalDay]
    goal_days_met: int
    #: Consecutive days with study time up to today (or yesterday while today has none yet).
    streak_days: int
    streak_until: date | None
    distracted: list[DistractedTopic]
    recall: Recall
