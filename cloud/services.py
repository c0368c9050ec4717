"""The one place the cloud's services are built: the API app and the admin CLI both call it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud import __version__
from cloud.account import Accounts
from cloud.admin import Admin
from cloud.analytics import Analytics
from cloud.auth import AuthService
from cloud.db.engine import make_sessions
from cloud.devices import DeviceLinks
from cloud.draining import Draining
from cloud.export import CloudExport
from cloud.identity import GoogleVerifier
from cloud.images import FolderObjectStore, Images, ObjectStore, S3ObjectStore
from cloud.ingest import Ingest
from cloud.metrics import CloudMetrics
from cloud.review_stats import ReviewStats
from cloud.secrets import jwt_secret
from cloud.settings import CloudSettings
from shared.clock import Clock


@dataclass
class CloudServices:
    """Everything a route or an admin command may use, wired once for one set of settings."""

    settings: CloudSettings
    clock: Clock
    engine: AsyncEngine
    auth: AuthService
    google: GoogleVerifier
    devices: DeviceLinks
    ingest: Ingest
    images: Images
    objects: ObjectStore
    folder: FolderObjectStore | None
    analytics: Analytics
    review: ReviewStats
    admin: Admin
    accounts: Accounts
    exports: CloudExport
    metrics: CloudMetrics
    draining: Draining = field(default_factory=Draining)

    def base_url(self, request: Request) -> str:
        """The URL clients reach us at: configured, else that of the request."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")


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


def object_store(
    settings: CloudSettings, secret: str
) -> tuple[ObjectStore, FolderObjectStore | None]:
    """S3 when a bucket is configured, else the object folder (also returned, for its routes)."""
    if settings.s3_bucket:
        return S3ObjectStore(s3_client(settings), settings.s3_bucket), None
    key = hmac.new(secret.encode(), b"studylens objects", hashlib.sha256).digest()
    folder = FolderObjectStore(settings.objects_dir, key)
    return folder, folder


def build_services(
    settings: CloudSettings, *, clock: Clock, engine: AsyncEngine, http: httpx.AsyncClient
) -> CloudServices:
    """Wire every service on `engine`; the caller owns (and closes) the engine and `http`."""
    secret = jwt_secret(settings)
    sessions = make_sessions(engine)
    objects, folder = object_store(settings, secret)
    auth = AuthService(sessions, settings, clock, secret)
    return CloudServices(
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
        ingest=Ingest(sessions, clock, objects),
        images=Images(sessions, objects, clock, settings.presign_ttl_seconds),
        objects=objects,
        folder=folder,
        analytics=Analytics(sessions),
        review=ReviewStats(sessions),
        admin=Admin(sessions, auth, clock),
        accounts=Accounts(sessions, objects, clock),
        exports=CloudExport(sessions, objects, clock, __version__),
        metrics=CloudMetrics(),
    )
