"""`serve`, `migrate` and `config`."""

from __future__ import annotations

import json
import os
import shutil
from typing import Annotated

import typer
import uvicorn

from cloud.api.app import MIGRATED_ENV, QUIET_LOGGERS
from cloud.cli.options import (
    ConfigOption,
    DatabaseOption,
    DataDirOption,
    cloud_settings,
    resolved_or_exit,
)
from cloud.db.migrate import upgrade_sync
from cloud.metrics import MULTIPROC_ENV
from cloud.settings import CONFIG_ENV, ENV_PREFIX
from shared.logs import configure_logging


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
    configure_logging(settings.log_level, settings.log_format, quiet=QUIET_LOGGERS)
    # Only for the migrations: each worker reads the secrets itself, from the same settings.
    upgrade_sync(resolved_or_exit(settings).database_address())
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
    if settings.workers > 1:
        # Each worker writes its metrics here, so `/metrics` from any of them sums them all.
        shared_metrics = settings.data_dir / "metrics"
        shutil.rmtree(shared_metrics, ignore_errors=True)  # values of a previous run
        shared_metrics.mkdir(parents=True)
        os.environ[MULTIPROC_ENV] = str(shared_metrics)
    uvicorn.run(
        "cloud.api.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        access_log=False,  # cloud.api.observe writes one line per request instead
        log_config=None,  # uvicorn's own lines go through our handler, in our format
    )


def migrate(
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Bring the database to the newest schema."""
    settings = cloud_settings(config, data_dir=data_dir, database_url=database_url)
    upgrade_sync(resolved_or_exit(settings).database_address())
    typer.echo("database is at the newest schema")


def show_config(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Print the effective settings, secrets masked."""
    settings = cloud_settings(config, data_dir=data_dir)
    typer.echo(json.dumps(settings.masked(), indent=2, default=str))
