"""Options every command shares, and turning them into settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from edge.settings import ConfigFileMissing, EdgeSettings, load_settings
from shared.cli import settings_or_exit as shared_settings_or_exit

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (default: $STUDYLENS_CONFIG, else ~/.config/studylens/edge.toml).",
        dir_okay=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where the database lives (default: $STATE_DIRECTORY or XDG data)."
    ),
]


def settings_or_exit(config_file: Path | None, **flags: Any) -> EdgeSettings:
    """Load settings, or print what is wrong with them and exit with status 2."""
    return shared_settings_or_exit(load_settings, ConfigFileMissing, config_file, **flags)


def existing_database(settings: EdgeSettings) -> Path:
    """Return the database path, or exit 1 if there is none (a mistyped --data-dir, say)."""
    path = settings.database_path
    if not path.is_file():
        typer.echo(f"error: no StudyLens database at {path}; check --data-dir.", err=True)
        raise typer.Exit(1)
    return path
