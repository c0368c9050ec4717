"""The weekly report's arithmetic on plain data: weeks, goals, streaks, distraction, recall."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from edge.errors import InvalidWeek
from edge.report.weekly import (
    IsoWeek,
    Review,
    goal_days,
    most_distracted,
    recall,
    streak,
    topic_weeks,
    week_asked,
    weekly_report,
)
from edge.topics.totals import Tally
from shared.clock import local_date
from tests.support import ZONE, berlin

WEDNESDAY = date(2026, 11, 25)  # in 2026-W48, Monday 23 to Sunday 29 November


def tally(*lines: tuple[str, float]) -> Tally:
    """A tally of (topic, seconds) lines."""
    made = Tally()
    for topic, seconds in lines:
        made.add(topic, seconds)
    return made


def days_from(first: date, *flags: int) -> set[date]:
    """The days from `first` on whose flag is 1."""
    return {first + timedelta(days=n) for n, flag in enumerate(flags) if flag}


@pytest.mark.parametrize(
    ("day", "week", "monday", "sunday"),
    [
        (date(2026, 11, 23), "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),  # a Monday
        (date(2026, 11, 29), "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),  # its Sunday
        (date(2026, 11, 30), "2026-W49", date(2026, 11, 30), date(2026, 12, 6)),  # next Monday
        (date(2027, 1, 1), "2026-W53", date(2026, 12, 28), date(2027, 1, 3)),  # the year's end
        (date(2025, 12, 29), "2026-W01", date(2025, 12, 29), date(2026, 1, 4)),  # ISO year ahead
    ],
)
def test_a_day_falls_in_its_monday_based_iso_week(
    day: date, week: str, monday: date, sunday: date
) -> None:
    """The week of a day, its label and its Monday and Sunday, across month and year ends."""
    found = IsoWeek.containing(day)

    assert (str(found), found.monday, found.sunday) == (week, monday, sunday)


@pytest.mark.parametrize(
    ("week", "previous", "following"),
    [
        ("2026-W48", "2026-W47", "2026-W49"),
        ("2026-W01", "2025-W52", "2026-W02"),
        ("2026-W53", "2026-W52", "2027-W01"),
    ],
)
def test_weeks_step_back_and_forth(week: str, previous: str, following: str) -> None:
    """The week before and after, over a year boundary too."""
    parsed = IsoWeek.parse(week)

    assert (str(parsed.previous()), str(parsed.next())) == (previous, following)


def test_the_student_s_zone_decides_the_week() -> None:
    """Sunday 23:30 UTC is already Monday in Berlin: the next week there."""
    moment = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)

    assert str(IsoWeek.containing(local_date(moment, ZONE))) == "2026-W49"


@pytest.mark.parametrize(
    "text",
    [
        "2026-48",
        "2026-W4",
        "2026W48",
        "2026-W48-3",
        "2026-w48",
        " 2026-W48",
        "2026-W00",
        "2026-W54",
        "2025-W53",
        "0000-W10",
        "0001-W01",
        "२०२६-W48",
        "",
    ],
)
def test_a_week_that_is_no_iso_week_is_refused(text: str) -> None:
    """Other shapes, week 0 and 54, week 53 of a 52-week year, years with no week before."""
    with pytest.raises(InvalidWeek):
        week_asked(text, WEDNESDAY)


def test_a_week_refused_says_the_form_and_what_was_sent() -> None:
    """The client sees the expected form and its own text."""
    with pytest.raises(InvalidWeek, match="must be an ISO week as YYYY-Www, not '2026-48'"):
        week_asked("2026-48", WEDNESDAY)


def test_a_week_yet_to_begin_is_refused() -> None:
    """Next week has no report yet."""
    with pytest.raises(InvalidWeek, match="not begun"):
        week_asked("2026-W49", WEDNESDAY)


@pytest.mark.parametrize(
    ("text", "week"),
    [
        (None, "2026-W48"),
        ("2026-W48", "2026-W48"),
        ("2026-W47", "2026-W47"),
        ("2020-W53", "2020-W53"),
    ],
)
def test_the_week_asked_is_taken_as_named_else_this_week(text: str | None, week: str) -> None:
    """None means the current week; this week or a past one (a week 53 too) is taken as named."""
    assert str(week_asked(text, WEDNESDAY)) == week


@pytest.mark.parametrize(
    ("seconds", "met"),
    [(3600, True), (3599, False), (3599.6, True), (0, False), (7200, True)],
    ids=["exactly", "a-second-short", "rounds-up-to-it", "nothing", "double"],
)
def test_a_day_meets_the_goal_at_its_minutes_exactly(seconds: float, met: bool) -> None:
    """With a 60-minute goal, 3600 seconds is enough and 3599 is not."""
    [day] = goal_days({WEDNESDAY: tally(("Math", seconds))}, goal_minutes=60)

    assert day.goal_met is met


@pytest.mark.parametrize(
    ("studied", "today", "days", "until"),
    [
        (days_from(date(2026, 11, 20), 1, 1, 1, 1, 1, 1), WEDNESDAY, 6, WEDNESDAY),
        (days_from(date(2026, 11, 20), 1, 1, 1, 1, 1, 0), WEDNESDAY, 5, date(2026, 11, 24)),
        (days_from(date(2026, 11, 20), 1, 1, 1, 0, 1, 1), WEDNESDAY, 2, WEDNESDAY),
        (days_from(date(2026, 11, 20), 1, 1, 1, 1, 0, 0), WEDNESDAY, 0, None),
        (days_from(date(2026, 11, 20), 1, 1, 1, 1, 0, 1), WEDNESDAY, 1, WEDNESDAY),
        (set(), WEDNESDAY, 0, None),
        (days_from(date(2026, 11, 28), 1, 1, 1), date(2026, 11, 30), 3, date(2026, 11, 30)),
    ],
    ids=[
        "through-today",
        "today-not-yet",
        "broken",
        "broken-yesterday",
        "only-today",
        "never",
        "across-weeks",
    ],
)
def test_the_streak_counts_back_from_today_or_yesterday(
    studied: set[date], today: date, days: int, until: date | None
) -> None:
    """Consecutive study days: today counts when it has time, else the run ends yesterday."""
    assert streak(studied, today) == (days, until)


def test_topics_compare_with_the_week_before() -> None:
    """Each topic of either week, most time this week first; one dropped this week shows 0."""
    rows = topic_weeks(
        tally(("Math", 600), ("Biology", 1200)), tally(("Math", 900), ("History", 300))
    )

    assert [(r.topic, r.seconds, r.previous_seconds) for r in rows] == [
        ("Biology", 1200, 0),
        ("Math", 600, 900),
        ("History", 0, 300),
    ]


def test_topics_tied_this_week_go_by_the_week_before() -> None:
    """Equal time this week: the topic with more time the week before comes first."""
    rows = topic_weeks(
        tally(("Math", 600), ("Biology", 600)), tally(("Math", 900), ("Biology", 300))
    )

    assert [r.topic for r in rows] == ["Math", "Biology"]


def test_the_most_distracted_topic_comes_first() -> None:
    """Only topics with distracted frames, the most first, each with all its frames."""
    week = Tally()
    week.add("Math", 600, active=8, passive=2, distracted=1)
    week.add("History", 300, active=1, passive=4, distracted=3)
    week.add("Biology", 900, active=5, passive=5, distracted=0)

    assert [(r.topic, r.distracted_frames, r.frames) for r in most_distracted(week)] == [
        ("History", 3, 5),
        ("Math", 1, 10),
    ]


def test_topics_tied_on_distraction_go_by_the_larger_share() -> None:
    """Two distracted frames each: of one frame in all is a larger share than of two."""
    week = Tally()
    week.add("Biology", 600, active=2, distracted=2)
    week.add("Chemistry", 300, active=1, distracted=2)

    assert [r.topic for r in most_distracted(week)] == ["Chemistry", "Biology"]


@pytest.mark.parametrize(
    ("ratings", "reviewed", "recalled", "share"),
    [
        (["good", "again", "easy", "hard"], 4, 3, 0.75),
        (["again", "again"], 2, 0, 0.0),
        ([], 0, 0, None),
    ],
    ids=["mixed", "all-forgotten", "none"],
)
def test_recall_is_the_share_not_graded_again(
    ratings: list[str], reviewed: int, recalled: int, share: float | None
) -> None:
    """Hard, good and easy count as recalled; with no reviews the share is null, not 0."""
    at = berlin("2026-11-24 18:00")
    found = recall([Review(at, r) for r in ratings], IsoWeek(2026, 48), ZONE)

    assert (found.reviewed, found.recalled, found.share) == (reviewed, recalled, share)


@pytest.mark.parametrize(
    ("local", "counted"),
    [
        ("2026-11-23 00:30", True),  # Monday just after midnight: Sunday 23:30 UTC
        ("2026-11-22 23:30", False),  # the Sunday before
        ("2026-11-29 23:59", True),
        ("2026-11-30 00:00", False),
    ],
)
def test_reviews_belong_to_the_local_week(local: str, counted: bool) -> None:
    """A review counts in the week of its local date, not its UTC one."""
    found = recall([Review(berlin(local), "good")], IsoWeek(2026, 48), ZONE)

    assert found.reviewed == int(counted)


def test_an_empty_week_reports_zeros() -> None:
    """No study, no reviews: seven days unmet, no topics, no streak, a null share."""
    report = weekly_report(
        IsoWeek(2026, 48), {}, {}, set(), [], today=WEDNESDAY, zone=ZONE, goal_minutes=60
    )

    assert report.total_seconds == 0
    assert report.topics == []
    assert [d.goal_met for d in report.days] == [False] * 7
    assert (report.goal_days_met, report.streak_days, report.streak_until) == (0, 0, None)
    assert (report.recall.reviewed, report.recall.share) == (0, None)


def test_a_report_counts_the_days_that_met_the_goal() -> None:
    """Two of the week's days reach 30 minutes, one falls short."""
    week = IsoWeek(2026, 48)
    days = {
        date(2026, 11, 23): tally(("Math", 1800)),
        date(2026, 11, 24): tally(("Math", 1000), ("Biology", 800)),
        date(2026, 11, 25): tally(("Math", 1799)),
    }

    report = weekly_report(
        week, days, {}, set(days), [], today=WEDNESDAY, zone=ZONE, goal_minutes=30
    )

    assert report.goal_days_met == 2
    assert [d.date for d in report.days] == week.days()
    assert report.total_seconds == 1800 + 1800 + 1799


@pytest.mark.parametrize(("week", "next_week"), [("2026-W48", None), ("2026-W47", "2026-W48")])
def test_only_a_past_week_links_to_the_next(week: str, next_week: str | None) -> None:
    """The current week has no next one to show; the week before links to it."""
    report = weekly_report(
        IsoWeek.parse(week), {}, {}, set(), [], today=WEDNESDAY, zone=ZONE, goal_minutes=60
    )

    assert report.next_week == next_week


def test_a_topic_with_no_whole_second_in_either_week_is_left_out() -> None:
    """A fraction of a second (a session that just began) shows no 0-minute row."""
    assert topic_weeks(tally(("Math", 0.2)), Tally()) == []


def test_a_report_names_its_week_and_the_week_before() -> None:
    """The labels the page shows and links back with."""
    report = weekly_report(
        IsoWeek(2026, 1), {}, {}, set(), [], today=WEDNESDAY, zone=ZONE, goal_minutes=60
    )

    assert (report.week, report.previous_week) == ("2026-W01", "2025-W52")


def test_a_report_gives_the_last_day_of_the_streak() -> None:
    """Studied Monday to Wednesday: three days, ending today."""
    studied = days_from(date(2026, 11, 23), 1, 1, 1)

    report = weekly_report(
        IsoWeek(2026, 48), {}, {}, studied, [], today=WEDNESDAY, zone=ZONE, goal_minutes=60
    )

    assert (report.streak_days, report.streak_until) == (3, WEDNESDAY)
