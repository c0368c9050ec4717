"""`pause` and `resume`: the privacy switch, on the data dir itself (a running daemon follows)."""

from __future__ import annotations

from contextlib import closing
from datetime import tzinfo
from typing import Annotated

import typer

from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.privacy.pause import MAX_MINUTES, PauseState, clear_pause, read_state, write_pause
from edge.store import open_database
from shared.clock import SystemClock


def pause(
    minutes: Annotated[
        int | None,
        typer.Option(
            "--minutes",
            min=1,
            max=MAX_MINUTES,
            help=f"End the pause by itself after this many minutes (1 to {MAX_MINUTES}); "
            "without it, the pause lasts until `resume`.",
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Pause capture: frames are refused and voice closes until the pause ends."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(settings.database_path)) as db:
        state = write_pause(db, SystemClock().now(), minutes)
    typer.echo(_sentence(state, settings.zone))
    typer.echo("A running daemon refuses frames at once and closes voice within a second.")


def resume(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """End the pause (nothing to do when none is on)."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        was = read_state(db, SystemClock().now())
        clear_pause(db)
    typer.echo("Resumed: capture is on." if was.paused else "Not paused: capture is on.")


def _sentence(state: PauseState, zone: tzinfo) -> str:
    if state.ends_at is None:
        return "Paused until you run `studylens-edge resume`."
    local = state.ends_at.astimezone(zone)
    return f"Paused until {local:%Y-%m-%d %H:%M} ({state.ends_at:%H:%M} UTC)."
