"""`studylens-edge export` and `import` from the command line: exit codes and messages."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from tests.edge.privacy.conftest import Studied, sessions_in


@pytest.fixture(autouse=True)
def berlin(hermetic_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The student's zone fixed, on top of a hermetic environment."""
    monkeypatch.setenv("STUDYLENS_TIMEZONE", "Europe/Berlin")


def run(*args: str) -> tuple[int, str]:
    """Run the edge CLI; its exit code and everything it printed."""
    result = CliRunner().invoke(cli_app, list(args))
    return result.exit_code, result.output


def test_export_then_import_onto_a_new_computer(studied: Studied, tmp_path: Path) -> None:
    """Both commands succeed, say what they moved, and the new dir holds the same sessions."""
    old_dir, out = studied.settings.data_dir, tmp_path / "mine.zip"
    code, output = run("export", "--out", str(out), "--data-dir", str(old_dir))
    assert code == 0, output
    assert "study days: 1, sessions: 2, learning events: 4" in output
    assert "cards: 2, review logs: 3, carded pages: 1, devices: 1" in output
    assert "devices: 1, originals: 3, recordings: 1." in output
    assert zipfile.is_zipfile(out)

    new_dir = tmp_path / "new-computer"
    code, output = run("import", str(out), "--data-dir", str(new_dir))
    assert code == 0, output
    assert "Imported into" in output
    assert "sessions: 2, learning events: 4" in output
    assert "Pair your phones again" in output
    assert sessions_in(new_dir / "studylens.db") == sessions_in(old_dir / "studylens.db")


def test_export_refuses_an_existing_file_unless_forced(studied: Studied, tmp_path: Path) -> None:
    """Exit 1 with the way out named; `--force` replaces the file."""
    out = tmp_path / "mine.zip"
    out.write_bytes(b"keep me")
    data_dir = str(studied.settings.data_dir)
    code, output = run("export", "--out", str(out), "--data-dir", data_dir)
    assert (code, out.read_bytes()) == (1, b"keep me")
    assert "already exists; pass --force" in output
    code, output = run("export", "--out", str(out), "--data-dir", data_dir, "--force")
    assert code == 0, output
    assert zipfile.is_zipfile(out)


@pytest.mark.parametrize(
    ("since", "says"),
    [("2999-01-01", "is after today"), ("01/02/2026", "must be a date like 2026-09-01")],
)
def test_export_refuses_a_future_or_bad_since(
    studied: Studied, tmp_path: Path, since: str, says: str
) -> None:
    """A usage error: exit 2, a clear sentence, and no file written."""
    out = tmp_path / "mine.zip"
    code, output = run(
        "export", "--out", str(out), "--since", since, "--data-dir", str(studied.settings.data_dir)
    )
    assert code == 2
    assert says in output
    assert not out.exists()


def test_export_without_a_database_says_so(tmp_path: Path) -> None:
    """A mistyped --data-dir: exit 1, nothing written."""
    code, output = run("export", "--out", str(tmp_path / "x.zip"), "--data-dir", str(tmp_path))
    assert code == 1
    assert "no StudyLens database" in output
    assert not (tmp_path / "x.zip").exists()


def test_import_refuses_a_non_empty_dir_and_a_broken_zip(studied: Studied, tmp_path: Path) -> None:
    """Exit 1 with the reason: the target has data, or the file is no readable zip."""
    out = tmp_path / "mine.zip"
    assert run("export", "--out", str(out), "--data-dir", str(studied.settings.data_dir))[0] == 0
    code, output = run("import", str(out), "--data-dir", str(studied.settings.data_dir))
    assert code == 1
    assert "is not empty" in output
    broken = tmp_path / "broken.zip"
    broken.write_bytes(out.read_bytes()[:100])
    code, output = run("import", str(broken), "--data-dir", str(tmp_path / "new"))
    assert code == 1
    assert "not a readable zip" in output
    assert not (tmp_path / "new").exists()
