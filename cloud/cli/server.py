"""`serve`, `migrate` and `config`."""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated

import typer
import uvicorn

from cloud.api.app import MIGRATED_ENV
from cloud.cli.options import ConfigOption, DatabaseOption, DataDirOption, cloud_settings
from cloud.db.migrate import upgrade_sync
from cloud.settings import CONFIG_ENV, ENV_PREFIX


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port to listen on.")] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
    workers: Annotated[int | None, typer.Option(help="API processes (default 1).")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the API (migrations applied first) until interrupted."""
    settings = cloud_settings(
        config, host=host, port=port, data_dir=data_dir, database_url=database_url, workers=workers
    )
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # INFO at most, whatever the level asked for: aiosqlite's DEBUG lines repeat every statement
    # with its parameters (the device flow's user codes, e-mail addresses), botocore's the
    # signature of every presigned URL (whoever reads it can upload or read that image).
    for chatty in ("aiosqlite", "botocore"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, logging.getLogger().level))
    upgrade_sync(settings.database_address())
    # Workers are fresh processes: they rebuild the settings from the environment.
    for name, value in {
        "data_dir": str(settings.data_dir),
        "database_url": database_url,
        "host": settings.host,
        "port": str(settings.port),
    }.items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = value
    if config is not None:
        os.environ[CONFIG_ENV] = str(config)
    os.environ[MIGRATED_ENV] = "1"
    uvicorn.run(
        "cloud.api.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        access_log=False,
    )


def migrate(
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Bring the database to the newest schema."""
    settings = cloud_settings(config, data_dir=data_dir, database_url=database_url)
    upgrade_sync(settings.database_address())
    typer.echo("database is at the newest schema")


def show_config(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Print the effective settings, secrets masked."""
    settings = cloud_settings(config, data_dir=data_dir)
    typer.echo(json.dumps(settings.masked(), indent=2, default=str))
