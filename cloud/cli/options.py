"""Options the cloud commands share, and turning them into settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cloud.errors import SecretsUnavailable
from cloud.secrets import resolve_secrets
from cloud.settings import CloudSettings, ConfigFileMissing, load_settings
from shared.cli import settings_or_exit

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (default: $STUDYLENS_CLOUD_CONFIG, else "
        "~/.config/studylens/cloud.toml).",
        dir_okay=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded database, object folder and generated secret."),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy async URL (default: SQLite in the data dir)."),
]


def cloud_settings(config_file: Path | None, **flags: Any) -> CloudSettings:
    """Load settings, or print what is wrong with them and exit with status 2."""
    return settings_or_exit(load_settings, ConfigFileMissing, config_file, **flags)


def resolved_or_exit(settings: CloudSettings) -> CloudSettings:
    """The settings with their secrets read (`resolve_secrets`), or say why not and exit 1."""
    try:
        return resolve_secrets(settings)
    except SecretsUnavailable as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
