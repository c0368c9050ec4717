"""The `studylens-edge` command line: help, settings precedence, reading the data, `status`."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner, Result

from edge.app import create_app
from edge.cli import app as cli_app
from edge.settings import EdgeSettings, flat_names, load_settings
from edge.store import open_database
from edge.sync import outbox
from edge.topics.tracker import FrameFlags
from edge.voice.local import Device
from tests.support import (
    AppClient,
    FakeClock,
    commands_without_help,
    options_without_help,
    pair_device,
    services_of,
    typer_commands,
)

SECRET = "sk-test-secret-123"  # noqa: S105 - a fake key the output must not show
MASK = "********"


pytestmark = pytest.mark.usefixtures("hermetic_env")


@pytest.fixture
def runner() -> CliRunner:
    """A Typer CLI runner."""
    return CliRunner()


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> FakeClock:
    """Make the CLI's reads use the test's fake clock instead of the real one."""
    monkeypatch.setattr("edge.cli.sessions.SystemClock", lambda: clock)
    monkeypatch.setattr("edge.cli.stats.SystemClock", lambda: clock)
    monkeypatch.setenv("STUDYLENS_TIMEZONE", "Europe/Berlin")
    return clock


def write_toml(path: Path, text: str) -> Path:
    """Write a TOML settings file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path


def shown_settings(runner: CliRunner, *args: str) -> Any:
    """Run `config show --json` with extra arguments and return the parsed settings."""
    result = runner.invoke(cli_app, ["config", "show", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def study(
    client: AppClient, clock: FakeClock, *, end: bool = True, topic: str = "Biology"
) -> str:
    """Through the running app: start a session, study a topic for 60 s, end it unless told."""
    response = await client.post("/api/session/start")
    assert response.status == 201
    session_id = str((await response.json())["data"]["sessionId"])
    flags = FrameFlags(active=True, distracted=False)
    await services_of(client).sessions.track(session_id, topic, clock.now(), flags)
    clock.advance(60)
    if end:
        ended = await client.post(f"/api/session/{session_id}/end")
        assert ended.status == 200
    return session_id


def all_commands() -> list[tuple[str, Any]]:
    """Every command and sub-command of the edge CLI, with its full name."""
    return typer_commands("studylens-edge", cli_app)


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- help -----------------------------------------------------------------------------------


def test_every_command_has_help_text() -> None:
    """Each command and sub-command documents itself in --help."""
    assert {
        "studylens-edge",
        "studylens-edge serve",
        "studylens-edge status",
        "studylens-edge config show",
        "studylens-edge sessions list",
        "studylens-edge stats today",
    } <= {name for name, _ in all_commands()}
    assert commands_without_help("studylens-edge", cli_app) == []


def test_every_option_has_help_text() -> None:
    """Each option of each command documents itself in --help."""
    assert options_without_help("studylens-edge", cli_app) == []


# --- config show ----------------------------------------------------------------------------


def test_config_show_masks_the_openai_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config show` prints the settings with the API key replaced by a mask."""
    monkeypatch.setenv("STUDYLENS_OPENAI_API_KEY", SECRET)

    result = runner.invoke(cli_app, ["config", "show"])

    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert f'openai_api_key = "{MASK}"' in result.output


def test_config_show_json_masks_the_openai_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config show --json` masks the API key too."""
    monkeypatch.setenv("STUDYLENS_OPENAI_API_KEY", SECRET)

    result = runner.invoke(cli_app, ["config", "show", "--json"])

    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert json.loads(result.stdout)["openai_api_key"] == MASK


def test_config_show_describes_every_setting(runner: CliRunner) -> None:
    """`config show` prints each setting with its description as a comment above it."""
    result = runner.invoke(cli_app, ["config", "show"])

    assert result.exit_code == 0, result.output
    names = flat_names()
    assert len(names) == 66  # as the README's Configuration table documents them
    for name, place in names.items():
        assert place.info.description
        assert f"# {place.info.description}\n{name} = " in result.output


def test_settings_file_overrides_defaults(runner: CliRunner, tmp_path: Path) -> None:
    """Values from the --config TOML file replace the defaults."""
    config = write_toml(tmp_path / "f.toml", "port = 9001\nsession_idle_minutes = 5\n")

    shown = shown_settings(runner, "--config", str(config))

    assert shown["port"] == 9001
    assert shown["session_idle_minutes"] == 5


def test_environment_overrides_the_settings_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STUDYLENS_PORT beats the file's port; the file's other values stay."""
    config = write_toml(tmp_path / "f.toml", "port = 9001\nsession_idle_minutes = 5\n")
    monkeypatch.setenv("STUDYLENS_PORT", "9002")

    shown = shown_settings(runner, "--config", str(config))

    assert shown["port"] == 9002
    assert shown["session_idle_minutes"] == 5


def test_flag_overrides_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI flag value passed to load_settings beats both the environment and the file."""
    config = write_toml(tmp_path / "f.toml", "port = 9001\nsession_idle_minutes = 5\n")
    monkeypatch.setenv("STUDYLENS_PORT", "9002")

    settings = load_settings(config, port=9003)

    assert settings.port == 9003
    assert settings.sessions.idle_minutes == 5


def test_flag_left_out_does_not_hide_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flag that was not given (None) leaves the environment's value in force."""
    config = write_toml(tmp_path / "f.toml", "port = 9001\n")
    monkeypatch.setenv("STUDYLENS_PORT", "9002")

    settings = load_settings(config, port=None)

    assert settings.port == 9002


def test_data_dir_flag_overrides_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config show --data-dir` beats STUDYLENS_DATA_DIR."""
    monkeypatch.setenv("STUDYLENS_DATA_DIR", str(tmp_path / "from-env"))

    shown = shown_settings(runner, "--data-dir", str(tmp_path / "from-flag"))

    assert shown["data_dir"] == str(tmp_path / "from-flag")


def test_config_file_named_by_environment_is_read(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STUDYLENS_CONFIG names the TOML file when --config is not given."""
    config = write_toml(tmp_path / "env.toml", "port = 9004\n")
    monkeypatch.setenv("STUDYLENS_CONFIG", str(config))

    shown = shown_settings(runner)

    assert shown["port"] == 9004


def test_xdg_config_file_is_read_by_default(runner: CliRunner, tmp_path: Path) -> None:
    """Without --config or STUDYLENS_CONFIG, $XDG_CONFIG_HOME/studylens/edge.toml is read."""
    folder = tmp_path / "xdg-config" / "studylens"
    folder.mkdir(parents=True)
    write_toml(folder / "edge.toml", "port = 9005\n")

    shown = shown_settings(runner)

    assert shown["port"] == 9005


def test_missing_config_file_exits_2_with_a_message(runner: CliRunner, tmp_path: Path) -> None:
    """--config naming a file that does not exist exits with status 2 and says so."""
    missing = tmp_path / "nope.toml"

    result = runner.invoke(cli_app, ["config", "show", "--config", str(missing)])

    assert result.exit_code == 2, result.output
    assert "not found" in result.output
    assert str(missing) in result.output


def test_unknown_key_in_config_file_exits_2_naming_it(runner: CliRunner, tmp_path: Path) -> None:
    """A TOML file with a key no setting has exits with status 2 and names the key."""
    config = write_toml(tmp_path / "f.toml", 'port = 9001\nlisten_colour = "blue"\n')

    result = runner.invoke(cli_app, ["config", "show", "--config", str(config)])

    assert result.exit_code == 2, result.output
    assert "listen_colour" in result.output


def test_invalid_value_in_config_file_exits_2_naming_it(runner: CliRunner, tmp_path: Path) -> None:
    """A TOML value out of range exits with status 2 and names the setting."""
    config = write_toml(tmp_path / "f.toml", "port = 70000\n")

    result = runner.invoke(cli_app, ["config", "show", "--config", str(config)])

    assert result.exit_code == 2, result.output
    assert "port" in result.output


def test_malformed_config_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """A file that is not TOML exits with status 2 and says the file cannot be read."""
    config = write_toml(tmp_path / "f.toml", "port = = 9001\n[unclosed\n")

    result = runner.invoke(cli_app, ["config", "show", "--config", str(config)])

    assert result.exit_code == 2, result.output
    assert "config file" in result.output


def test_state_directory_first_entry_is_the_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A colon-separated STATE_DIRECTORY (systemd) gives the data dir its first entry."""
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/x:{tmp_path}/y")

    settings = load_settings()

    assert settings.data_dir == tmp_path / "x"


def test_xdg_data_home_is_the_default_data_dir(tmp_path: Path) -> None:
    """Outside systemd the data dir is $XDG_DATA_HOME/studylens."""
    settings = load_settings()

    assert settings.data_dir == tmp_path / "xdg-data" / "studylens"


# --- reading the data -----------------------------------------------------------------------


async def test_sessions_list_shows_a_recorded_session(
    runner: CliRunner, client: AppClient, clock: FakeClock, cli_clock: FakeClock, data_dir: Path
) -> None:
    """`sessions list` shows a session the daemon recorded, with its studied time."""
    session_id = await study(client, clock)

    result = runner.invoke(cli_app, ["sessions", "list", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    row = next((line for line in result.output.splitlines() if session_id in line), None)
    assert row is not None, result.output
    assert "2026-11-25" in row
    assert "0:01:00" in row
    assert "(ended)" in row


async def test_sessions_list_marks_a_running_session(
    runner: CliRunner, client: AppClient, clock: FakeClock, cli_clock: FakeClock, data_dir: Path
) -> None:
    """A session the daemon is still running is listed as running."""
    session_id = await study(client, clock, end=False)

    result = runner.invoke(cli_app, ["sessions", "list", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    row = next((line for line in result.output.splitlines() if session_id in line), "")
    assert "running" in row, result.output
    assert "0:01:00" in row


async def test_stats_today_shows_the_studied_topic(
    runner: CliRunner, client: AppClient, clock: FakeClock, cli_clock: FakeClock, data_dir: Path
) -> None:
    """`stats today` shows the topic studied today with its time."""
    await study(client, clock)

    result = runner.invoke(cli_app, ["stats", "today", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    assert "2026-11-25" in result.output
    row = next((line for line in result.output.splitlines() if "Biology" in line), "")
    assert "0:01:00" in row, result.output


async def test_stats_today_includes_the_running_session(
    runner: CliRunner, client: AppClient, clock: FakeClock, cli_clock: FakeClock, data_dir: Path
) -> None:
    """`stats today` counts the session still running, up to now."""
    await study(client, clock, end=False)
    clock.advance(60)

    result = runner.invoke(cli_app, ["stats", "today", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    row = next((line for line in result.output.splitlines() if "Biology" in line), "")
    assert "0:02:00" in row, result.output


def test_sessions_list_on_an_empty_data_dir(
    runner: CliRunner, cli_clock: FakeClock, tmp_path: Path
) -> None:
    """With no sessions recorded, `sessions list` says so."""
    empty = tmp_path / "empty"
    open_database(empty / "studylens.db").close()

    result = runner.invoke(cli_app, ["sessions", "list", "--data-dir", str(empty)])

    assert result.exit_code == 0, result.output
    assert "No study sessions yet." in result.output


def test_stats_today_on_an_empty_data_dir(
    runner: CliRunner, cli_clock: FakeClock, tmp_path: Path
) -> None:
    """With nothing recorded, `stats today` says nothing was studied today."""
    empty = tmp_path / "empty"
    open_database(empty / "studylens.db").close()

    result = runner.invoke(cli_app, ["stats", "today", "--data-dir", str(empty)])

    assert result.exit_code == 0, result.output
    assert "Nothing studied yet on 2026-11-25." in result.output


@pytest.mark.parametrize("command", [["sessions", "list"], ["stats", "today"]])
def test_read_commands_refuse_a_data_dir_without_a_database(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    """A mistyped --data-dir is reported, not silently turned into a new empty database."""
    missing = tmp_path / "typo"

    result = runner.invoke(cli_app, [*command, "--data-dir", str(missing)])

    assert result.exit_code == 1
    assert "no StudyLens database" in result.output
    assert not missing.exists()


# --- status ---------------------------------------------------------------------------------


async def test_status_reports_a_running_daemon(
    runner: CliRunner, settings: EdgeSettings, clock: FakeClock
) -> None:
    """`status --port` against a live daemon exits 0 and shows its status ok."""
    web_runner = web.AppRunner(create_app(settings, clock))
    await web_runner.setup()
    try:
        site = web.TCPSite(web_runner, "127.0.0.1", 0)
        await site.start()
        port = int(web_runner.addresses[0][1])
        result: Result = await asyncio.to_thread(
            runner.invoke, cli_app, ["status", "--port", str(port)]
        )
    finally:
        await web_runner.cleanup()

    assert result.exit_code == 0, result.output
    assert re.search(r"\bstatus\b.*\bok\b", result.output), result.output
    assert re.search(r"task idle-sessions\b.*\brunning, 0 failure", result.output), result.output


def test_status_without_a_daemon_exits_1(runner: CliRunner) -> None:
    """`status` against a port nothing listens on exits 1 and says no daemon answers."""
    result = runner.invoke(cli_app, ["status", "--port", str(closed_port())])

    assert result.exit_code == 1, result.output
    assert "No StudyLens daemon answers" in result.output


def test_status_with_an_ipv6_host_reports_no_daemon(runner: CliRunner) -> None:
    """`status --host ::1` builds a valid URL ([::1]) and, with nothing there, exits 1 cleanly."""
    result = runner.invoke(cli_app, ["status", "--host", "::1", "--port", str(closed_port())])

    assert result.exit_code == 1, result.output
    assert "No StudyLens daemon answers" in result.output, repr(result.exception)


# --- text others wrote ----------------------------------------------------------------------

#: What a phone, the model or a cloud may have written, and how the CLI must show it: markup
#: literally (`[/]` alone made rich raise), control characters escaped, never sent raw.
HOSTILE = [
    ("[/] x", "[/] x"),
    ("[bold red]evil", "[bold red]evil"),
    ("[link=http://x]y[/link]", "[link=http://x]y[/link]"),
    ("\x1b[31mred", "\\x1b[31mred"),
]


def shown_safely(result: Result, expected: str) -> bool:
    """The command succeeded and printed `expected`, with no raw escape character."""
    return result.exit_code == 0 and expected in result.output and "\x1b" not in result.output


@pytest.mark.parametrize(("stored", "expected"), HOSTILE)
def test_devices_list_shows_a_phone_name_as_written(
    runner: CliRunner, settings: EdgeSettings, stored: str, expected: str
) -> None:
    """A phone cannot hide from `devices list` (or restyle it) through its name."""
    pair_device(settings, stored)

    result = runner.invoke(cli_app, ["devices", "list", "--data-dir", str(settings.data_dir)])

    assert shown_safely(result, expected), (result.output, result.exception)


@pytest.mark.parametrize(("stored", "expected"), HOSTILE)
async def test_sessions_list_shows_a_stored_session_id_as_written(
    runner: CliRunner,
    client: AppClient,
    clock: FakeClock,
    cli_clock: FakeClock,
    settings: EdgeSettings,
    stored: str,
    expected: str,
) -> None:
    """Every stored string in `sessions list` is printed as text (here a tampered-with id)."""
    session_id = await study(client, clock)
    await services_of(client).store.run(
        lambda db: db.execute(
            "INSERT INTO sessions (id, day_id, started_at, last_activity_at)"
            " SELECT ?, day_id, started_at, last_activity_at FROM sessions WHERE id = ?",
            [stored, session_id],
        )
    )

    result = runner.invoke(cli_app, ["sessions", "list", "--data-dir", str(settings.data_dir)])

    assert shown_safely(result, expected), (result.output, result.exception)


@pytest.mark.parametrize(("stored", "expected"), HOSTILE)
async def test_stats_today_shows_a_topic_as_written(
    runner: CliRunner,
    client: AppClient,
    clock: FakeClock,
    cli_clock: FakeClock,
    settings: EdgeSettings,
    stored: str,
    expected: str,
) -> None:
    """A topic name the model made up is printed as text by `stats today`."""
    await study(client, clock, topic=stored)

    result = runner.invoke(cli_app, ["stats", "today", "--data-dir", str(settings.data_dir)])

    assert shown_safely(result, expected), (result.output, result.exception)


def test_sync_status_escapes_control_characters_of_the_cloud_error(
    runner: CliRunner, settings: EdgeSettings
) -> None:
    """The last error (text from the cloud) is printed with its escape character escaped.

    Plain lines, no rich: markup is no danger here, so only control characters are tried.
    """
    stored, expected = HOSTILE[-1]
    db = open_database(settings.database_path)
    try:
        outbox.set_state(db, last_error=stored, last_error_at="2026-11-25T09:00:00.000Z")
    finally:
        db.close()

    result = runner.invoke(cli_app, ["sync", "status", "--data-dir", str(settings.data_dir)])

    assert shown_safely(result, expected), (result.output, result.exception)


@pytest.mark.parametrize(("stored", "expected"), HOSTILE)
async def test_status_shows_what_the_daemon_answered_as_written(
    runner: CliRunner, stored: str, expected: str
) -> None:
    """Whatever answers on the port cannot drive the terminal through its /healthz."""

    async def healthz(request: web.Request) -> web.Response:
        health = {"status": stored, "version": "1", "uptimeSeconds": 1, "activeSessions": 0}
        return web.json_response({"success": True, "data": {**health, "tasks": {}}})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    web_runner = web.AppRunner(app)
    await web_runner.setup()
    try:
        site = web.TCPSite(web_runner, "127.0.0.1", 0)
        await site.start()
        port = int(web_runner.addresses[0][1])
        result: Result = await asyncio.to_thread(
            runner.invoke, cli_app, ["status", "--port", str(port)]
        )
    finally:
        await web_runner.cleanup()

    assert shown_safely(result, expected), (result.output, result.exception)


@pytest.mark.parametrize(("stored", "expected"), HOSTILE)
def test_audio_devices_shows_a_device_name_as_written(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, stored: str, expected: str
) -> None:
    """A sound device's name (a USB device names itself) is printed as text."""
    monkeypatch.setattr("edge.cli.voice.list_devices", lambda: [Device(0, stored, 1, 0, 48000.0)])

    result = runner.invoke(cli_app, ["audio", "devices"])

    assert shown_safely(result, expected), (result.output, result.exception)
