"""The app factory: settings in, a FastAPI app out, with every service wired in one place."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

import httpx
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cloud import __version__
from cloud.api import (
    admin_routes,
    analytics_routes,
    auth_routes,
    device_routes,
    envelope,
    health_routes,
    me_routes,
    metrics_routes,
    review_routes,
    sync_routes,
)
from cloud.api.limits import BodyLimit
from cloud.api.observe import RequestLog
from cloud.db.engine import RotatingPassword, make_engine
from cloud.db.migrate import upgrade
from cloud.draining import drain_on_signals
from cloud.secrets import resolve_secrets, rotating_password
from cloud.services import build_services
from cloud.services import s3_client as s3_client  # re-exported: tests build S3 clients
from cloud.settings import CloudSettings, load_settings
from shared.clock import Clock, SystemClock
from shared.logs import configure_logging

#: Set by `serve` for its workers: the parent process already applied the migrations.
MIGRATED_ENV = "STUDYLENS_CLOUD_MIGRATED"

DESCRIPTION = """The StudyLens cloud API: Google sign-in, edge linking, sync ingest, images and
analytics across a student's edges. Every answer is `{"success": true, "data": ...}` or
`{"success": false, "error": {"code", "message"}}`."""


def create_app(
    settings: CloudSettings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    drain_on_stop: bool = False,
    database_password: RotatingPassword | None = None,
) -> FastAPI:
    """Wire the services for `settings`; the lifespan applies migrations and closes resources.

    `drain_on_stop` (a `serve` worker): SIGTERM and SIGINT drain first, `/readyz` answering 503
    for `shutdown_drain_seconds`, before uvicorn's graceful shutdown.
    """
    clock = clock or SystemClock()
    engine = make_engine(
        settings.database_address(),
        pool_size=settings.database_pool_size,
        password=database_password,
    )
    http = httpx.AsyncClient(headers={"User-Agent": f"studylens-cloud/{__version__}"})
    services = build_services(settings, clock=clock, engine=engine, http=http)
    objects = services.objects

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            if migrate:
                await upgrade(settings.database_address())
            await objects.check()
            delay = settings.shutdown_drain_seconds
            with drain_on_signals(services.draining, delay) if drain_on_stop else nullcontext():
                yield
        finally:
            await http.aclose()
            await engine.dispose()

    app = FastAPIOffline(
        title="StudyLens cloud API",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/api-docs",
        redoc_url=None,
        static_url="/api-docs/static",
        lifespan=lifespan,
    )
    app.state.services = services
    envelope.install(app)
    for module in (
        auth_routes,
        device_routes,
        sync_routes,
        analytics_routes,
        review_routes,
        admin_routes,
        health_routes,
        me_routes,
    ):
        app.include_router(module.router)
    app.include_router(auth_routes.me_router)
    app.include_router(device_routes.page)
    app.include_router(sync_routes.objects)
    app.include_router(metrics_routes.router)
    app.add_middleware(BodyLimit)
    # Outermost: every answer is counted and logged, a refused body size too.
    app.add_middleware(RequestLog, metrics=services.metrics)
    return app


#: Loggers that stay at INFO at most, whatever the level: aiosqlite's DEBUG lines repeat every
#: statement with its parameters (the device flow's user codes, e-mail addresses), botocore's the
#: signature of every presigned URL (whoever reads it can upload or read that image).
QUIET_LOGGERS = ("aiosqlite", "botocore")


def app_from_environment() -> FastAPI:
    """The app of one `serve` worker: settings from the environment and config file.

    A worker is a fresh process: it sets up its own logging, as `serve` did for itself.
    """
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, quiet=QUIET_LOGGERS)
    # Secrets by ARN are read here, once: uvicorn calls this factory in the worker's event loop
    # but before the worker accepts a connection, so the blocking read holds nothing up.
    resolved = resolve_secrets(settings)
    return create_app(
        resolved,
        migrate=os.environ.get(MIGRATED_ENV) != "1",
        drain_on_stop=True,
        database_password=rotating_password(settings, resolved),
    )
