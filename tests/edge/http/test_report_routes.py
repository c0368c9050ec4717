"""The weekly report over HTTP: the week asked for, bad weeks refused, the goal setting used."""

from __future__ import annotations

import pytest

from edge.report.models import WeeklyReport
from tests.support import (
    ACTIVE,
    AppClient,
    FakeClock,
    StartApp,
    berlin,
    data_of,
    error_of,
    services_of,
)


async def studied(client: AppClient, clock: FakeClock, at: str, topic: str, seconds: float) -> None:
    """One ended session at Berlin time `at` spending `seconds` on `topic`."""
    clock.current = berlin(at)
    sessions = services_of(client).sessions
    session_id = (await sessions.start()).session_id
    await sessions.track(session_id, topic, clock.now(), ACTIVE)
    clock.advance(seconds)
    await sessions.end(session_id)


async def test_without_a_week_it_reports_this_one(owner: AppClient) -> None:
    """Wednesday 25 November 2026 is in 2026-W48, Monday 23 to Sunday 29."""
    report = await data_of(await owner.get("/api/report/weekly"))

    assert (report["week"], report["fromDate"], report["toDate"]) == (
        "2026-W48",
        "2026-11-23",
        "2026-11-29",
    )
    assert (report["previousWeek"], report["nextWeek"]) == ("2026-W47", None)
    assert WeeklyReport.model_validate(report).goal_minutes_per_day == 60


async def test_a_past_week_reports_its_own_time(owner: AppClient, clock: FakeClock) -> None:
    """Asked for last week: its Math against the week before it, this week's Art left out."""
    await studied(owner, clock, "2026-11-10 18:00", "Math", 600)
    await studied(owner, clock, "2026-11-17 18:00", "Math", 1200)
    await studied(owner, clock, "2026-11-24 18:00", "Art", 300)
    clock.current = berlin("2026-11-25 10:00")

    report = await data_of(await owner.get("/api/report/weekly", params={"week": "2026-W47"}))

    assert report["topics"] == [{"topic": "Math", "seconds": 1200, "previousSeconds": 600}]
    assert report["nextWeek"] == "2026-W48"
    # The streak is today's whichever week is shown: yesterday's Art, today nothing yet.
    assert (report["streakDays"], report["streakUntil"]) == (1, "2026-11-24")


async def test_the_goal_setting_decides_the_days_met(start_app: StartApp, clock: FakeClock) -> None:
    """With a 10-minute goal, 600 seconds on a day meets it."""
    client = await start_app(as_owner=True, study_goal_minutes_per_day=10)
    await studied(client, clock, "2026-11-23 18:00", "Math", 600)
    await studied(client, clock, "2026-11-24 18:00", "Math", 599)
    clock.current = berlin("2026-11-25 10:00")

    report = await data_of(await client.get("/api/report/weekly"))

    assert report["goalMinutesPerDay"] == 10
    assert [day["goalMet"] for day in report["days"]][:2] == [True, False]
    assert report["goalDaysMet"] == 1


@pytest.mark.parametrize(
    "week",
    [
        "48",
        "2026-48",
        "2026-W4",
        "2026-W048",
        "2026-w48",
        "2026-W48-1",
        "2026-11-25",
        "",
        "2026-W00",
        "2026-W54",
        "2025-W53",
        "0001-W01",
        "2026-W49",
        "2027-W01",
    ],
)
async def test_a_week_that_is_not_one_to_report_is_refused(owner: AppClient, week: str) -> None:
    """Malformed, nonexistent and not-yet-begun weeks answer 400 invalid_week."""
    error = await error_of(await owner.get("/api/report/weekly", params={"week": week}), 400)

    assert error["code"] == "invalid_week"
    assert "week" in error["message"]


async def test_a_phone_may_not_read_the_report(client: AppClient) -> None:
    """The report is the owner's: a paired phone's token gets 403."""
    error = await error_of(await client.get("/api/report/weekly"), 403)

    assert error["code"] == "forbidden"
