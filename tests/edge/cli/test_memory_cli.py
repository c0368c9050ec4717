"""`cards list`, `cards make` and the interactive `review`, on a data dir of their own."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.store import open_database
from tests.edge.memory.conftest import MITOSIS, PHOTOSYNTHESIS, add_session
from tests.support import FakeClock

pytestmark = pytest.mark.usefixtures("hermetic_env")


@pytest.fixture
def runner() -> CliRunner:
    """A Typer CLI runner."""
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with an ended session of two pages, not carded yet."""
    folder = tmp_path / "data"
    db = open_database(folder / "studylens.db")
    add_session(db, [MITOSIS, PHOTOSYNTHESIS])
    db.close()
    return folder


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> FakeClock:
    """Card making and reviewing on the test's clock (new cards are due when made)."""
    monkeypatch.setattr("edge.cli.review.SystemClock", lambda: clock)
    monkeypatch.setattr("edge.cli.cards.SystemClock", lambda: clock)
    monkeypatch.setenv("STUDYLENS_TIMEZONE", "Europe/Berlin")
    return clock


def session_id(data_dir: Path) -> str:
    """The one session in the data dir."""
    db = open_database(data_dir / "studylens.db")
    try:
        return str(db.execute("SELECT id FROM sessions").fetchone()["id"])
    finally:
        db.close()


def reviews(data_dir: Path) -> list[int]:
    """The ratings in the review log, oldest first."""
    db: sqlite_utils.Database = open_database(data_dir / "studylens.db")
    try:
        return [r["rating"] for r in db.query("SELECT rating FROM review_logs ORDER BY rowid")]
    finally:
        db.close()


def make(runner: CliRunner, data_dir: Path) -> str:
    """`cards make` of the data dir's session; its output."""
    sid = session_id(data_dir)
    result = runner.invoke(
        cli_app, ["cards", "make", "--session", sid, "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_cards_make_cards_the_session_once(runner: CliRunner, data_dir: Path) -> None:
    """The first run makes on-device cards; the second finds nothing new to card."""
    first = make(runner, data_dir)

    again = make(runner, data_dir)

    assert "from 2 page(s) (on-device)" in first
    assert again.startswith("0 new card(s) from 0 page(s)")


def test_cards_make_of_an_unknown_session_exits_1(runner: CliRunner, data_dir: Path) -> None:
    """A made-up session id is an error, said on stderr."""
    result = runner.invoke(
        cli_app, ["cards", "make", "--session", "nope", "--data-dir", str(data_dir)]
    )

    assert result.exit_code == 1
    assert "No study session with id 'nope'" in result.stderr


def test_cards_list_shows_the_cards_of_a_topic(runner: CliRunner, data_dir: Path) -> None:
    """After making, `cards list --topic biology` shows them; another topic shows none."""
    make(runner, data_dir)

    shown = runner.invoke(
        cli_app, ["cards", "list", "--topic", "biology", "--data-dir", str(data_dir)]
    )
    other = runner.invoke(cli_app, ["cards", "list", "--topic", "Art", "--data-dir", str(data_dir)])

    assert shown.exit_code == 0, shown.output
    assert "_____" in shown.output
    assert other.output.strip() == "No Art cards."


def test_review_reveals_then_grades_with_number_keys(
    runner: CliRunner, data_dir: Path, cli_clock: FakeClock
) -> None:
    """Enter shows the answer, 3 grades good, 1 again; q ends the session."""
    make(runner, data_dir)

    result = runner.invoke(cli_app, ["review", "--data-dir", str(data_dir)], input="\n3\n1q")

    assert result.exit_code == 0, result.output
    assert "Answer:" in result.output
    assert reviews(data_dir) == [3, 1]
    assert "Graded 2 card(s) this time" in result.output


def test_review_ignores_other_keys_and_quits_before_grading(
    runner: CliRunner, data_dir: Path, cli_clock: FakeClock
) -> None:
    """Keys other than Enter, 1-4 and q do nothing; q after the reveal grades nothing."""
    make(runner, data_dir)

    result = runner.invoke(cli_app, ["review", "--data-dir", str(data_dir)], input="x\n9q")

    assert result.exit_code == 0, result.output
    assert reviews(data_dir) == []


def test_review_with_nothing_due_says_so(
    runner: CliRunner, data_dir: Path, cli_clock: FakeClock
) -> None:
    """No cards: no prompt, a sentence, exit 0."""
    result = runner.invoke(cli_app, ["review", "--data-dir", str(data_dir)], input="")

    assert result.exit_code == 0, result.output
    assert "Nothing is due." in result.output


def test_review_ends_at_the_end_of_input(
    runner: CliRunner, data_dir: Path, cli_clock: FakeClock
) -> None:
    """Input that runs out mid-card is a quit, not a loop."""
    make(runner, data_dir)

    result = runner.invoke(cli_app, ["review", "--data-dir", str(data_dir)], input="\n")

    assert result.exit_code == 0, result.output
    assert reviews(data_dir) == []
