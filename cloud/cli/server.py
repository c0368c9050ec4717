"""`serve`, `migrate` and `config`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

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
    run_until_stopped(
        uvicorn.Config(
            "cloud.api.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            # Requests in flight may finish within the grace, then are cancelled (uvicorn logs how
            # many); asyncio.wait_for takes the float as it is.
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,  # type: ignore[arg-type]
            access_log=False,  # cloud.api.observe writes one line per request instead
            log_config=None,  # uvicorn's own lines go through our handler, in our format
        )
    )


class _Workers(Multiprocess):
    """uvicorn's supervisor of `workers` processes, letting go of the socket when they stop.

    The workers close their copies of the listening socket when their shutdown starts (after the
    drain); the supervisor would keep its own open until the last one exits, and the kernel would
    go on accepting connections that nobody serves, reset only then. Closed as soon as the
    workers are told to stop, new connections are refused once they all stopped listening.
    """

    def terminate_all(self) -> None:
        """Tell every worker to stop, then close this process's copy of the socket."""
        super().terminate_all()
        for sock in self.sockets:
            sock.close()


def run_until_stopped(config: uvicorn.Config) -> None:
    """Serve until SIGTERM or SIGINT; exit 0 once drained and shut down (3 if startup failed)."""
    if config.workers > 1:
        _Workers(config, sockets=[config.bind_socket()]).run()
        return
    # uvicorn raises the signal that stopped it again once it has shut down, so that its default
    # action follows (death by SIGTERM, status 143); a stop that was asked for is a success.
    signal.signal(signal.SIGTERM, _stopped)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT, raised again the same way
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _stopped(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


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
