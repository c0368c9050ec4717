"""Topic analytics over HTTP: today, one day, the last seven days, and midnight splits."""

from __future__ import annotations

import pytest

from tests.support import (
    ACTIVE,
    AppClient,
    FakeClock,
    StartApp,
    berlin,
    data_of,
    durations,
    error_of,
    services_of,
)

WEEK = [f"2026-11-{day}" for day in range(19, 26)]


async def study(
    client: AppClient, clock: FakeClock, topic: str, seconds: float, *, end: bool = True
) -> str:
    """Start a session, track one topic, let `seconds` pass, end it unless told not to."""
    session_id = str((await data_of(await client.post("/api/session/start"), 201))["sessionId"])
    await services_of(client).sessions.track(session_id, topic, clock.now(), ACTIVE)
    clock.advance(seconds)
    if end:
        await data_of(await client.post(f"/api/session/{session_id}/end"))
    return session_id


async def test_today_includes_the_running_session(client: AppClient, clock: FakeClock) -> None:
    """Today's stats count a session that has not ended, up to now."""
    await study(client, clock, "Biology", 120, end=False)

    today = await data_of(await client.get("/api/today/topic-stats"))

    assert today["date"] == "2026-11-25"
    assert today["totalSeconds"] == 120
    assert today["totalAnalyses"] == 1
    assert durations(today) == [("Biology", 120)]


async def test_today_adds_ended_and_running_sessions(client: AppClient, clock: FakeClock) -> None:
    """Ended sessions and the running one add up per topic."""
    await study(client, clock, "Biology", 60)
    await study(client, clock, "Math", 30)
    await study(client, clock, "Biology", 15, end=False)

    today = await data_of(await client.get("/api/today/topic-stats"))

    assert durations(today) == [("Biology", 75), ("Math", 30)]
    assert today["totalSeconds"] == 105


async def test_daily_of_today_equals_today(client: AppClient, clock: FakeClock) -> None:
    """/api/topic/daily?date=<today> answers exactly what /api/today/topic-stats does."""
    await study(client, clock, "Biology", 60)
    await study(client, clock, "Math", 30, end=False)

    daily = await data_of(await client.get("/api/topic/daily", params={"date": "2026-11-25"}))
    today = await data_of(await client.get("/api/today/topic-stats"))

    assert daily == today
    assert daily["totalSeconds"] == 90


async def test_daily_without_a_date_is_today(client: AppClient, clock: FakeClock) -> None:
    """/api/topic/daily with no date parameter reports today."""
    await study(client, clock, "Biology", 60)

    daily = await data_of(await client.get("/api/topic/daily"))

    assert daily["date"] == "2026-11-25"
    assert durations(daily) == [("Biology", 60)]


@pytest.mark.parametrize("raw", ["2026-13-01", "yesterday", "2026-1-5", "", "2026-02-30"])
async def test_daily_rejects_a_bad_date(client: AppClient, raw: str) -> None:
    """A date that is not a real YYYY-MM-DD answers 400 invalid_date."""
    error = await error_of(await client.get("/api/topic/daily", params={"date": raw}), 400)

    assert error["code"] == "invalid_date"


@pytest.mark.parametrize("raw", ["2026-W48-3", "20261125ab"])
async def test_daily_rejects_text_that_is_not_yyyy_mm_dd(client: AppClient, raw: str) -> None:
    """Ten characters that Python's fromisoformat reads as a date are still not YYYY-MM-DD.

    Python 3.11's `date.fromisoformat` accepts ISO week dates and the basic format followed by
    junk; both parse as 2026-11-25 here, so the route must check the shape itself.
    """
    error = await error_of(await client.get("/api/topic/daily", params={"date": raw}), 400)

    assert error["code"] == "invalid_date"


async def test_daily_of_a_day_without_data_is_empty(client: AppClient, clock: FakeClock) -> None:
    """A day nobody studied has zero totals and no topics."""
    await study(client, clock, "Biology", 60)

    daily = await data_of(await client.get("/api/topic/daily", params={"date": "2026-11-20"}))

    assert daily == {
        "date": "2026-11-20",
        "totalSeconds": 0,
        "totalAnalyses": 0,
        "topicStats": [],
    }


async def test_weekly_covers_seven_days_oldest_first_ending_today(client: AppClient) -> None:
    """The week runs from six days ago to today, one entry per day in date order."""
    week = await data_of(await client.get("/api/topic/weekly"))

    assert week["fromDate"] == "2026-11-19"
    assert week["toDate"] == "2026-11-25"
    assert [day["date"] for day in week["days"]] == WEEK


async def test_weekly_breaks_time_down_per_day(start_app: StartApp, clock: FakeClock) -> None:
    """Each day of the week carries its own topics; the week's totals add them up."""
    clock.current = berlin("2026-11-23 10:00")
    client = await start_app()
    await study(client, clock, "Math", 30)
    clock.current = berlin("2026-11-25 10:00")
    await study(client, clock, "Biology", 60)

    week = await data_of(await client.get("/api/topic/weekly"))

    per_day = {day["date"]: durations(day) for day in week["days"]}
    assert per_day == {
        "2026-11-19": [],
        "2026-11-20": [],
        "2026-11-21": [],
        "2026-11-22": [],
        "2026-11-23": [("Math", 30)],
        "2026-11-24": [],
        "2026-11-25": [("Biology", 60)],
    }
    assert durations(week) == [("Biology", 60), ("Math", 30)]
    assert week["totalSeconds"] == 90


async def test_weekly_leaves_out_the_eighth_day_back(start_app: StartApp, clock: FakeClock) -> None:
    """Time studied seven days ago is outside the week ending today."""
    clock.current = berlin("2026-11-18 12:00")
    client = await start_app()
    await study(client, clock, "History", 300)
    clock.current = berlin("2026-11-25 10:00")

    week = await data_of(await client.get("/api/topic/weekly"))

    assert week["totalSeconds"] == 0
    assert week["topicStats"] == []


async def test_weekly_includes_the_running_session(client: AppClient, clock: FakeClock) -> None:
    """The week, like today, counts the running session up to now."""
    await study(client, clock, "Physics", 90, end=False)

    week = await data_of(await client.get("/api/topic/weekly"))

    assert durations(week["days"][-1]) == [("Physics", 90)]
    assert week["totalSeconds"] == 90


async def test_weekly_splits_a_session_at_local_midnight(
    start_app: StartApp, clock: FakeClock
) -> None:
    """A session from 23:59 to 00:01 Berlin time shows 60 s on each of the two days."""
    clock.current = berlin("2026-11-24 23:59:00")
    client = await start_app()
    await study(client, clock, "Biology", 120)

    week = await data_of(await client.get("/api/topic/weekly"))

    per_day = {day["date"]: durations(day) for day in week["days"]}
    assert week["toDate"] == "2026-11-25"
    assert per_day["2026-11-24"] == [("Biology", 60)]
    assert per_day["2026-11-25"] == [("Biology", 60)]
    assert week["totalSeconds"] == 120


async def test_today_counts_a_running_session_only_since_midnight(
    start_app: StartApp, clock: FakeClock
) -> None:
    """A session running since before midnight adds only today's part to today."""
    clock.current = berlin("2026-11-24 23:59:00")
    client = await start_app()
    await study(client, clock, "Biology", 120, end=False)

    today = await data_of(await client.get("/api/today/topic-stats"))
    yesterday = await data_of(await client.get("/api/topic/daily", params={"date": "2026-11-24"}))

    assert today["date"] == "2026-11-25"
    assert durations(today) == [("Biology", 60)]
    assert durations(yesterday) == [("Biology", 60)]
