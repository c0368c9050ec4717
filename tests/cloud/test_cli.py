"""`studylens-cloud`: help texts, `migrate` and `config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloud.cli import app as cli
from tests.support import commands_without_help, options_without_help, typer_commands


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner isolated from the machine's settings."""
    for name in ("STUDYLENS_CLOUD_CONFIG", "STATE_DIRECTORY", "STUDYLENS_CLOUD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return CliRunner()


def test_every_command_has_help_text() -> None:
    """Each command and sub-command documents itself in --help."""
    assert {
        "studylens-cloud serve",
        "studylens-cloud migrate",
        "studylens-cloud admin grant",
        "studylens-cloud admin users",
        "studylens-cloud admin devices",
        "studylens-cloud admin revoke-tokens",
        "studylens-cloud admin stats",
        "studylens-cloud admin purge",
    } <= {name for name, _ in typer_commands("studylens-cloud", cli)}
    assert commands_without_help("studylens-cloud", cli) == []


def test_every_option_has_help_text() -> None:
    """Each option of each command documents itself in --help."""
    assert options_without_help("studylens-cloud", cli) == []


def test_migrate_creates_the_embedded_database(runner: CliRunner, tmp_path: Path) -> None:
    """`migrate` on an empty data dir makes the SQLite file at the newest schema."""
    result = runner.invoke(cli, ["migrate", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "cloud.db").is_file()
    again = runner.invoke(cli, ["migrate", "--data-dir", str(tmp_path / "d")])
    assert again.exit_code == 0, again.output


def test_config_masks_secrets(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """`config` prints the effective settings with secrets replaced by a mask."""
    monkeypatch.setenv("STUDYLENS_CLOUD_JWT_SECRET", "do-not-print-me")
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["jwt_secret"] == "********"  # noqa: S105 - the mask, not a secret
    assert "do-not-print-me" not in result.output


def test_bad_setting_exits_2_with_a_message(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalid setting is reported by name and the command exits with status 2."""
    monkeypatch.setenv("STUDYLENS_CLOUD_ACCESS_TOKEN_TTL_SECONDS", "5")
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "access_token_ttl_seconds" in result.output
