"""Options every command shares, and turning them into settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from edge.settings import ConfigFileMissing, EdgeSettings, load_settings

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
    try:
        return load_settings(config_file, **flags)
    except ConfigFileMissing as exc:
        typer.echo(f"error: {exc}", err=True)
    except ValidationError as exc:
        typer.echo("error: invalid settings:", err=True)
        for err in exc.errors(include_url=False):
            where = ".".join(str(part) for part in err["loc"])
            typer.echo(f"  {where}: {err['msg']}", err=True)
    except ValueError as exc:  # a malformed TOML file
        typer.echo(f"error: cannot read the config file: {exc}", err=True)
    raise typer.Exit(2)


def existing_database(settings: EdgeSettings) -> Path:
    """Return the database path, or exit 1 if there is none (a mistyped --data-dir, say)."""
    path = settings.database_path
    if not path.is_file():
        typer.echo(f"error: no StudyLens database at {path}; check --data-dir.", err=True)
        raise typer.Exit(1)
    return path
