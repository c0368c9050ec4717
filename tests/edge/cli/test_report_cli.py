"""`studylens-edge report`: the weekly report printed from the data dir, as the API reports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.settings import EdgeSettings
from edge.store import open_database
from tests.support import ACTIVE, AppClient, FakeClock, StartApp, berlin, data_of, services_of

pytestmark = pytest.mark.usefixtures("hermetic_env")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> CliRunner:
    """A CLI runner whose reads use the test's clock, zone and a 30-minute goal."""
    monkeypatch.setattr("edge.cli.report.SystemClock", lambda: clock)
    monkeypatch.setenv("STUDYLENS_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("STUDYLENS_STUDY_GOAL_MINUTES_PER_DAY", "30")
    return CliRunner()


async def studied(client: AppClient, clock: FakeClock, at: str, topic: str, seconds: float) -> None:
    """One ended session at Berlin time `at` spending `seconds` on `topic`."""
    clock.current = berlin(at)
    sessions = services_of(client).sessions
    session_id = (await sessions.start()).session_id
    await sessions.track(session_id, topic, clock.now(), ACTIVE)
    clock.advance(seconds)
    await sessions.end(session_id)


def row_of(output: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first`."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


@pytest.fixture
async def owner_app(start_app: StartApp) -> AppClient:
    """The daemon with the CLI's 30-minute goal, its data dir the CLI's."""
    return await start_app(as_owner=True, study_goal_minutes_per_day=30)


async def test_the_report_prints_minutes_against_the_week_before(
    runner: CliRunner, owner_app: AppClient, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Math 40 minutes this week against 15 the week before: +25."""
    await studied(owner_app, clock, "2026-11-17 18:00", "Math", 900)
    await studied(owner_app, clock, "2026-11-24 18:00", "Math", 2400)
    clock.current = berlin("2026-11-25 10:00")

    result = runner.invoke(cli_app, ["report", "--data-dir", str(settings.data_dir)])

    assert result.exit_code == 0, result.output
    assert "Week 2026-W48: 2026-11-23 to 2026-11-29" in result.output
    assert row_of(result.output, "Math") == ["Math", "40", "15", "+25"]
    assert row_of(result.output, "Tue 2026-11-24") == ["Tue 2026-11-24", "40", "met"]
    assert "Streak: 1 day (to 2026-11-24)" in result.output


async def test_the_report_prints_what_the_api_reports(
    runner: CliRunner, owner_app: AppClient, clock: FakeClock, settings: EdgeSettings
) -> None:
    """For a past week, every topic row and figure matches GET /api/report/weekly."""
    await studied(owner_app, clock, "2026-11-10 18:00", "Biology", 1500)
    await studied(owner_app, clock, "2026-11-16 09:00", "Math", 1830)
    await studied(owner_app, clock, "2026-11-18 09:00", "Biology", 600)
    clock.current = berlin("2026-11-25 10:00")
    api = await data_of(await owner_app.get("/api/report/weekly", params={"week": "2026-W47"}))

    result = runner.invoke(
        cli_app, ["report", "--week", "2026-W47", "--data-dir", str(settings.data_dir)]
    )

    assert result.exit_code == 0, result.output
    for topic in api["topics"]:
        cells = row_of(result.output, topic["topic"])
        assert cells[1:3] == [
            str((topic["seconds"] + 30) // 60),
            str((topic["previousSeconds"] + 30) // 60),
        ]
    assert f"Goal met on {api['goalDaysMet']} of 7 days" in result.output
    assert api["goalDaysMet"] == 1  # Monday's 30.5 minutes; Wednesday's 10 fall short
    assert "Cards: none reviewed" in result.output


@pytest.mark.parametrize("week", ["2026-48", "2026-W54", "2026-W49"])
def test_a_bad_week_exits_2_naming_it(runner: CliRunner, settings: EdgeSettings, week: str) -> None:
    """Malformed, nonexistent or future: a message and exit status 2, no traceback."""
    open_database(settings.database_path).close()

    result = runner.invoke(
        cli_app, ["report", "--week", week, "--data-dir", str(settings.data_dir)]
    )

    assert result.exit_code == 2
    assert week in result.output


def test_a_data_dir_without_a_database_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    """A mistyped --data-dir is reported, not made into a new database."""
    missing = tmp_path / "typo"

    result = runner.invoke(cli_app, ["report", "--data-dir", str(missing)])

    assert result.exit_code == 1
    assert "no StudyLens database" in result.output
    assert not missing.exists()
