"""`studylens-edge forget` from the command line: what it says, asks, refuses and deletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from tests.edge.privacy.conftest import Studied, sessions_in


@pytest.fixture(autouse=True)
def berlin(hermetic_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The student's zone fixed, on top of a hermetic environment."""
    monkeypatch.setenv("STUDYLENS_TIMEZONE", "Europe/Berlin")


def run(studied: Studied, *args: str, answer: str | None = None) -> tuple[int, str]:
    """Run `forget` on the fixture's data dir; its exit code and everything it printed."""
    data_dir = ["--data-dir", str(studied.settings.data_dir)]
    result = CliRunner().invoke(cli_app, ["forget", *args, *data_dir], input=answer)
    return result.exit_code, result.output


def test_forget_one_session_says_what_it_deletes(studied: Studied) -> None:
    """`--yes`: the counts before and after, the session gone, the other kept."""
    code, output = run(studied, "--session", studied.synced_session, "--yes")

    assert code == 0, output
    assert f"This forgets session {studied.synced_session}: 1 session(s), 2 frame(s)" in output
    assert "Forgotten: 1 session(s), 2 frame(s)" in output
    assert "1 review card(s), 2 review grade(s)" in output
    assert "not linked" in output
    assert sessions_in(studied.settings.database_path) == {studied.running_session}


def test_forget_asks_first_and_a_no_deletes_nothing(studied: Studied) -> None:
    """Without `--yes` it asks; answering no aborts with status 1."""
    code, output = run(studied, "--all", answer="n\n")

    assert code == 1
    assert "Delete this for good?" in output
    assert len(sessions_in(studied.settings.database_path)) == 2


def test_forget_asks_first_and_a_yes_deletes(studied: Studied) -> None:
    """Answering yes deletes everything asked."""
    code, output = run(studied, "--all", answer="y\n")

    assert code == 0, output
    assert sessions_in(studied.settings.database_path) == set()


def test_forget_before_a_day_in_the_future_is_a_usage_error(studied: Studied) -> None:
    """Exit 2 and the way out (forget everything) named; nothing deleted."""
    code, output = run(studied, "--before", "2099-01-01", "--yes")

    assert code == 2
    assert "after today" in output
    assert "forget everything" in output
    assert len(sessions_in(studied.settings.database_path)) == 2


def test_forget_before_a_day_with_no_session_says_so(studied: Studied) -> None:
    """Nothing that old: said, exit 0, nothing asked."""
    code, output = run(studied, "--before", "2020-01-01")

    assert code == 0
    assert "Nothing to forget" in output


def test_forget_before_the_next_day_forgets_that_day(studied: Studied) -> None:
    """Both sessions of 25 November go with `--before 2026-11-26`."""
    code, output = run(studied, "--before", "2026-11-26", "--yes")

    assert code == 0, output
    assert "2 session(s)" in output
    assert sessions_in(studied.settings.database_path) == set()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--all", "--before", "2026-11-01"],
        ["--session", "x"],
        ["--before", "yesterday"],
        ["--before", "2026-02-30"],
    ],
)
def test_forget_needs_exactly_one_well_formed_choice(studied: Studied, args: list[str]) -> None:
    """None, two, a malformed id or date: exit 2, nothing deleted."""
    code, output = run(studied, *args, "--yes")

    assert code == 2, output
    assert "error:" in output
    assert len(sessions_in(studied.settings.database_path)) == 2


def test_forget_an_unknown_session_is_refused(studied: Studied) -> None:
    """A well-formed id that no session has: exit 1, named."""
    unknown = "00000000-0000-4000-8000-000000000000"

    code, output = run(studied, "--session", unknown, "--yes")

    assert code == 1
    assert unknown in output


def test_forget_needs_a_database(tmp_path: Path) -> None:
    """A mistyped data dir: exit 1, no database made."""
    result = CliRunner().invoke(cli_app, ["forget", "--all", "--data-dir", str(tmp_path / "x")])

    assert result.exit_code == 1
    assert "no StudyLens database" in result.output
    assert not (tmp_path / "x" / "studylens.db").exists()


def test_sync_status_counts_the_deletions_still_to_send(studied: Studied) -> None:
    """The synced session's facts were in the cloud: their deletions wait, and are shown."""
    run(studied, "--session", studied.synced_session, "--yes")
    data_dir = ["--data-dir", str(studied.settings.data_dir)]

    result = CliRunner().invoke(cli_app, ["sync", "status", "--json", *data_dir])
    shown = CliRunner().invoke(cli_app, ["sync", "status", *data_dir])

    status = json.loads(result.output)
    assert status["pendingDeletions"] >= 5  # the session, 2 frames, a segment, a bookmark, ...
    assert status["pendingFacts"] >= status["pendingDeletions"]
    assert f"of them deletions: {status['pendingDeletions']}" in shown.output
