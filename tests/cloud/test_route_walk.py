"""Every route of the cloud app refuses whoever it must: a walk over the app's route table.

Routes open without an access token are listed in `OPEN` with the reason; any other route must
refuse a stranger and a revoked token (401), a device's sync token unless it is a sync route, a
student's token on a sync route, and a non-admin on an admin route (403). A route added later
is walked too, so an open one fails here until it is listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount

from tests.cloud.support import bearer, link_device, sign_in
from tests.fakes.google import FakeGoogle

pytestmark = pytest.mark.postgresql_only

#: (method, path) open to anyone, and why.
OPEN: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness",
    ("GET", "/readyz"): "readiness",
    ("POST", "/api/auth/google"): "sign-in: a Google ID token is the credential",
    ("POST", "/api/auth/refresh"): "the refresh token is the credential",
    ("POST", "/api/auth/logout"): "revokes only the tokens it is sent",
    ("POST", "/api/devices/code"): "an unlinked edge asks for a code (rate-limited per address)",
    ("POST", "/api/devices/token"): "the device code is the credential",
    ("GET", "/device"): "the verification page; it signs in before it looks anything up",
    ("GET", "/openapi.json"): "the API description",
    ("GET", "/api-docs"): "interactive docs",
    ("GET", "/docs/oauth2-redirect"): "interactive docs",
    ("MOUNT", "/api-docs/static"): "the docs' own assets",
    ("PUT", "/api/objects/{key:path}"): "embedded object folder: the presigned signature is it",
    ("GET", "/api/objects/{key:path}"): "embedded object folder: the presigned signature is it",
}
#: Routes a linked edge's sync token is for; a student's token is refused there.
SYNC = {("POST", "/api/sync/batch"), ("POST", "/api/sync/images/presign")}


def walk(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, routers included by `include_router` too."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            prefix = route.include_context.prefix  # type: ignore[attr-defined]
            yield from ((m, prefix + p) for m, p in walk(original.routes))
        elif isinstance(route, Mount):
            yield "MOUNT", route.path
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, getattr(route, "path", "")


def app_of(cloud: httpx.AsyncClient) -> FastAPI:
    """The app behind an in-process client."""
    app: FastAPI = cloud._transport.app  # type: ignore[attr-defined]
    return app


def guarded(cloud: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Every route not in `OPEN`."""
    return [route for route in walk(app_of(cloud).routes) if route not in OPEN]


def concrete(path: str) -> str:
    """A path with its parameters filled in."""
    return re.sub(r"\{[^}]+\}", lambda m: "a" * 64 if "sha256" in m.group() else "x", path)


async def call(cloud: httpx.AsyncClient, method: str, path: str, token: str | None) -> Any:
    """Send `method path` (a JSON body where one may go) with `token`, if any."""
    headers = bearer(token) if token else {}
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "DELETE") else None
    cloud.cookies.clear()
    return await cloud.request(method, concrete(path), json=body, headers=headers)


def refusals(answers: dict[tuple[str, str], httpx.Response], status: int, code: str) -> list[str]:
    """The routes whose answer is not `status` with `code` in the failure envelope."""
    wrong = []
    for (method, path), response in answers.items():
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        error = body.get("error", {}) if body.get("success") is False else {}
        if response.status_code != status or error.get("code") != code:
            wrong.append(f"{method} {path}: {response.status_code} {body}")
    return wrong


async def test_the_open_table_names_only_existing_routes(cloud: httpx.AsyncClient) -> None:
    """Every open entry is a route the app has, so the table cannot silently go stale."""
    routes = set(walk(app_of(cloud).routes))
    assert set(OPEN) - routes == set()
    assert routes >= SYNC


async def test_strangers_are_refused_every_guarded_route(cloud: httpx.AsyncClient) -> None:
    """Without a token, every route outside the open table is 401 unauthenticated."""
    answers = {r: await call(cloud, *r, None) for r in guarded(cloud)}
    assert refusals(answers, 401, "unauthenticated") == []


async def test_revoked_tokens_are_refused_every_guarded_route(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A signed-out student's access token is 401 invalid_token on every guarded route."""
    pair = await sign_in(cloud, google)
    await cloud.post(
        "/api/auth/logout",
        json={"refreshToken": pair["refreshToken"]},
        headers=bearer(pair["accessToken"]),
    )
    answers = {r: await call(cloud, *r, pair["accessToken"]) for r in guarded(cloud)}
    assert refusals(answers, 401, "invalid_token") == []


async def test_sync_tokens_are_refused_every_route_but_sync(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A device's sync token is 403 insufficient_scope everywhere but the sync routes."""
    device = await link_device(cloud, await sign_in(cloud, google))
    routes = [r for r in guarded(cloud) if r not in SYNC]
    answers = {r: await call(cloud, *r, device["accessToken"]) for r in routes}
    assert refusals(answers, 403, "insufficient_scope") == []


async def test_student_tokens_are_refused_the_sync_routes(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A student's own token is 403 forbidden on the routes only a linked edge may use."""
    pair = await sign_in(cloud, google)
    answers = {r: await call(cloud, *r, pair["accessToken"]) for r in SYNC}
    assert refusals(answers, 403, "forbidden") == []


async def test_students_are_refused_every_admin_route(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A student who is not an admin is 403 forbidden on every admin route."""
    pair = await sign_in(cloud, google)
    routes = [r for r in guarded(cloud) if r[1].startswith("/api/admin/")]
    answers = {r: await call(cloud, *r, pair["accessToken"]) for r in routes}
    assert routes
    assert refusals(answers, 403, "forbidden") == []
