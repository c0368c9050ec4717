"""Liveness, readiness, the OpenAPI schema and the offline interactive docs."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cloud.services import CloudServices
from tests.cloud.support import data_of, error_of

#: PostgreSQL only: the core modules (auth, ingest, analytics) also run on SQLite.
pytestmark = pytest.mark.postgresql_only


async def test_healthz(cloud: httpx.AsyncClient) -> None:
    """/healthz answers status ok."""
    assert data_of(await cloud.get("/healthz"))["status"] == "ok"


async def test_readyz_checks_database_and_objects(cloud: httpx.AsyncClient) -> None:
    """/readyz reports both the database and the object store as ok."""
    ready = data_of(await cloud.get("/readyz"))
    assert ready["checks"] == {"database": "ok", "objects": "ok"}


async def test_readyz_is_503_when_the_database_is_gone(start_cloud: Any) -> None:
    """/readyz is a 503 database_unavailable when the database cannot be reached."""
    from pydantic import SecretStr

    cloud = await start_cloud()
    settings_url = "postgresql+asyncpg://nobody:wrong@127.0.0.1:9/none"
    broken = await start_cloud(database_url=SecretStr(settings_url))
    data_of(await cloud.get("/readyz"))
    assert error_of(await broken.get("/readyz"), 503)["code"] == "database_unavailable"


def services_of(cloud: httpx.AsyncClient) -> CloudServices:
    """The services of the app behind an in-process client."""
    app: FastAPI = cloud._transport.app  # type: ignore[attr-defined]
    found: CloudServices = app.state.services
    return found


async def test_readyz_is_503_draining_while_healthz_stays_ok(cloud: httpx.AsyncClient) -> None:
    """Once draining, /readyz answers 503 draining; /healthz (liveness) and the API go on."""
    services_of(cloud).draining.start()
    assert error_of(await cloud.get("/readyz"), 503)["code"] == "draining"
    assert data_of(await cloud.get("/healthz"))["status"] == "ok"
    assert error_of(await cloud.get("/api/sessions"), 401)["code"]  # routes still answer


async def test_openapi_lists_every_route(cloud: httpx.AsyncClient) -> None:
    """The OpenAPI schema includes every public route."""
    schema = (await cloud.get("/openapi.json")).json()
    assert {
        "/api/auth/google",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/devices/code",
        "/api/devices/approve",
        "/api/devices/token",
        "/api/sync/batch",
        "/api/sync/images/presign",
        "/api/images/{sha256}",
        "/api/topic/daily",
        "/api/topic/weekly",
        "/api/sessions",
        "/api/admin/users",
        "/healthz",
        "/readyz",
    } <= set(schema["paths"])


async def test_every_route_has_a_description(cloud: httpx.AsyncClient) -> None:
    """Every operation in the OpenAPI schema has a description."""
    schema = (await cloud.get("/openapi.json")).json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("description"), f"{method.upper()} {path} has no description"


async def test_docs_load_their_assets_from_the_app(cloud: httpx.AsyncClient) -> None:
    """The /api-docs page loads every asset from the app itself, none from elsewhere."""
    page = await cloud.get("/api-docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the app"
        response = await cloud.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 100


async def test_unknown_route_is_a_404_envelope(cloud: httpx.AsyncClient) -> None:
    """An unknown route is a 404 in the error envelope."""
    assert error_of(await cloud.get("/api/nothing-here"), 404)["code"] == "not_found"


async def test_wrong_method_is_a_405_envelope(cloud: httpx.AsyncClient) -> None:
    """A wrong method on a known route is a 405 in the error envelope."""
    assert error_of(await cloud.get("/api/sync/batch"), 405)["code"] == "method_not_allowed"
