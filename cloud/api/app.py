"""The app factory: settings in, a FastAPI app out, with every service wired in one place."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cloud import __version__
from cloud.admin import Admin
from cloud.analytics import Analytics
from cloud.api import (
    admin_routes,
    analytics_routes,
    auth_routes,
    device_routes,
    envelope,
    health_routes,
    sync_routes,
)
from cloud.api.context import Services
from cloud.api.limits import BodyLimit
from cloud.auth import AuthService
from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.devices import DeviceLinks
from cloud.identity import GoogleVerifier
from cloud.images import FolderObjectStore, Images, ObjectStore, S3ObjectStore
from cloud.ingest import Ingest
from cloud.secrets import jwt_secret
from cloud.settings import CloudSettings, load_settings
from shared.clock import Clock, SystemClock

#: Set by `serve` for its workers: the parent process already applied the migrations.
MIGRATED_ENV = "STUDYLENS_CLOUD_MIGRATED"

DESCRIPTION = """The StudyLens cloud API: Google sign-in, edge linking, sync ingest, images and
analytics across a student's edges. Every answer is `{"success": true, "data": ...}` or
`{"success": false, "error": {"code", "message"}}`."""


def s3_client(settings: CloudSettings) -> Any:
    """A boto3 S3 client for the configured endpoint (path-style for S3-compatible servers)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "region_name": settings.s3_region,
        "config": Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    }
    if settings.s3_endpoint_url:
        options["endpoint_url"] = settings.s3_endpoint_url
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        options["aws_access_key_id"] = settings.s3_access_key_id.get_secret_value()
        options["aws_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    return boto3.client("s3", **options)


def create_app(
    settings: CloudSettings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Wire the services for `settings`; the lifespan applies migrations and closes resources."""
    clock = clock or SystemClock()
    secret = jwt_secret(settings)
    engine = make_engine(settings.database_address(), pool_size=settings.database_pool_size)
    sessions = make_sessions(engine)
    http = httpx.AsyncClient(headers={"User-Agent": f"studylens-cloud/{__version__}"})
    folder: FolderObjectStore | None = None
    objects: ObjectStore
    if settings.s3_bucket:
        objects = S3ObjectStore(s3_client(settings), settings.s3_bucket)
    else:
        key = hmac.new(secret.encode(), b"studylens objects", hashlib.sha256).digest()
        folder = FolderObjectStore(settings.objects_dir, key)
        objects = folder
    auth = AuthService(sessions, settings, clock, secret)
    services = Services(
        settings=settings,
        clock=clock,
        engine=engine,
        auth=auth,
        google=GoogleVerifier(
            http,
            jwks_url=settings.google_jwks_url,
            client_ids=settings.google_client_ids,
            refetch_seconds=settings.google_jwks_refetch_seconds,
        ),
        devices=DeviceLinks(sessions, auth, settings, clock),
        ingest=Ingest(sessions, clock),
        images=Images(sessions, objects, clock, settings.presign_ttl_seconds),
        objects=objects,
        folder=folder,
        analytics=Analytics(sessions),
        admin=Admin(sessions, auth, clock),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            if migrate:
                await upgrade(settings.database_address())
            await objects.check()
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
        admin_routes,
        health_routes,
    ):
        app.include_router(module.router)
    app.include_router(auth_routes.me_router)
    app.include_router(device_routes.page)
    app.include_router(sync_routes.objects)
    app.add_middleware(BodyLimit)
    return app


def app_from_environment() -> FastAPI:
    """The app of one `serve` worker: settings from the environment and config file."""
    return create_app(load_settings(), migrate=os.environ.get(MIGRATED_ENV) != "1")
