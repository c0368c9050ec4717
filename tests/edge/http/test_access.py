"""The route-table walk: every route refuses strangers, revoked devices, phones and other sites.

Each registered route is looked up in `ROUTE_ACCESS` and called the way each kind of caller
would call it, so a route added later is covered the day it is added, and one added without a
decision stops the app from starting at all.
"""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web

from edge import pairing
from edge.http.access import ROUTE_ACCESS, Access, UndecidedRoute, check_decisions, undecided
from edge.settings import EdgeSettings
from tests.support import (
    PEER_HEADER,
    AppClient,
    FakeClock,
    StartApp,
    authorized,
    pair_device,
    services_of,
)

#: A phone on the student's Wi-Fi.
LAN_PEER = "192.168.1.50"
#: Pages of other sites, as browsers announce them.
CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:9999"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
]

Route = tuple[str, str, Access]


@pytest.fixture
async def owner_app(start_app: StartApp) -> AppClient:
    """An app with `open_on_localhost` on, whose requests may claim a LAN peer address."""
    return await start_app(open_on_localhost=True, peer_header=True)


def walk(client: AppClient) -> list[Route]:
    """(method, path, decision) of every registered route, path parameters filled in."""
    found = set()
    for route in client.app.router.routes():
        assert route.resource is not None
        method = route.method
        if method == "HEAD":
            continue
        canonical = route.resource.canonical
        path = re.sub(r"\{[^}]*\}", "made-up-value", canonical)
        if canonical == "/static":
            path = "/static/app.js"
        found.add((method, path, ROUTE_ACCESS[(method, canonical)]))
    assert len(found) >= 25, found
    return sorted(found, key=lambda r: (r[1], r[0]))


async def answer(
    session: aiohttp.ClientSession,
    client: AppClient,
    method: str,
    path: str,
    headers: dict[str, str],
) -> tuple[int, str | None]:
    """Status and error code of one request (streams are left at their first bytes)."""
    async with session.request(method, client.make_url(path), headers=headers) as response:
        if response.content_type != "application/json":
            return response.status, None
        body = await response.json()
        return response.status, body["error"]["code"] if body.get("success") is False else None


async def misanswered(
    session: aiohttp.ClientSession,
    client: AppClient,
    routes: list[Route],
    headers: dict[str, str],
    expected: tuple[int, str],
) -> list[str]:
    """Each route that did not answer `expected`, described."""
    wrong = []
    for method, path, _ in routes:
        got = await answer(session, client, method, path, headers)
        if got != expected:
            wrong.append(f"{method} {path} -> {got}")
    return wrong


def test_every_route_has_a_decision(client: AppClient) -> None:
    """The app's routes all appear in the access table."""
    assert undecided(client.app.router.routes()) == []


def test_a_route_without_a_decision_stops_the_app() -> None:
    """An app with a route the table does not know fails its check."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/api/new-and-undecided", handler)

    with pytest.raises(UndecidedRoute, match="/api/new-and-undecided"):
        check_decisions(app)


def test_only_liveness_pairing_and_the_page_are_open() -> None:
    """The open routes are exactly /healthz, /api/pair, the page and its assets."""
    assert {key for key, access in ROUTE_ACCESS.items() if access is Access.OPEN} == {
        ("GET", "/healthz"),
        ("POST", "/api/pair"),
        ("GET", "/"),
        ("GET", "/static"),
    }


async def test_a_stranger_on_the_lan_gets_401_everywhere_private(
    owner_app: AppClient, anon: aiohttp.ClientSession
) -> None:
    """No token, from another machine: every route that is not open answers 401."""
    private = [r for r in walk(owner_app) if r[2] is not Access.OPEN]

    wrong = await misanswered(
        anon, owner_app, private, {PEER_HEADER: LAN_PEER}, (401, "unauthorized")
    )

    assert wrong == []


async def test_a_made_up_token_gets_401_everywhere_private(
    owner_app: AppClient, anon: aiohttp.ClientSession
) -> None:
    """A token nobody was given, even from this computer, opens no private route."""
    private = [r for r in walk(owner_app) if r[2] is not Access.OPEN]
    made_up = authorized("made-up-token-0123456789abcdefghijklmnopqrs")

    wrong = await misanswered(anon, owner_app, private, made_up, (401, "unauthorized"))

    assert wrong == []


async def test_a_revoked_phone_gets_401_everywhere_private(
    owner_app: AppClient,
    anon: aiohttp.ClientSession,
    settings: EdgeSettings,
    clock: FakeClock,
) -> None:
    """A revoked device's token, even from this computer, opens no private route."""
    token = pair_device(settings, "stolen phone")
    devices = await services_of(owner_app).store.run(pairing.list_devices)
    [stolen] = [d for d in devices if d.name == "stolen phone"]
    await services_of(owner_app).store.run(
        lambda db: pairing.revoke(db, stolen.device_id, clock.now())
    )
    private = [r for r in walk(owner_app) if r[2] is not Access.OPEN]

    wrong = await misanswered(anon, owner_app, private, authorized(token), (401, "unauthorized"))

    assert wrong == []


async def test_a_phone_gets_403_on_every_owner_route(
    owner_app: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """A live phone token, even sent from this computer, is refused on the owner's routes."""
    token = pair_device(settings, "curious phone")
    owners = [r for r in walk(owner_app) if r[2] is Access.OWNER]
    assert ("POST", "/api/pair/code", Access.OWNER) in owners

    wrong = await misanswered(anon, owner_app, owners, authorized(token), (403, "forbidden"))

    assert wrong == []


async def refused(
    session: aiohttp.ClientSession,
    client: AppClient,
    routes: list[Route],
    headers: dict[str, str],
) -> list[str]:
    """Each route that the access rules refused (401 or 403), described."""
    found = []
    for method, path, _ in routes:
        status, code = await answer(session, client, method, path, headers)
        if status in (401, 403):
            found.append(f"{method} {path} -> {status} {code}")
    return found


async def test_a_phone_reaches_every_phone_route(
    owner_app: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """Where a phone is admitted, its token gets past the access rules (no 401/403)."""
    token = pair_device(settings, "good phone")
    phones = [r for r in walk(owner_app) if r[2] is Access.PHONE]

    assert await refused(anon, owner_app, phones, authorized(token)) == []


async def test_the_owner_reaches_every_route(
    owner_app: AppClient, anon: aiohttp.ClientSession
) -> None:
    """The computer's own browser (no token, loopback) gets past the access rules everywhere."""
    assert await refused(anon, owner_app, walk(owner_app), {}) == []


@pytest.mark.parametrize("page", CROSS_SITE, ids=lambda h: "=".join(next(iter(h.items()))))
async def test_another_sites_page_gets_403_everywhere(
    owner_app: AppClient, anon: aiohttp.ClientSession, page: dict[str, str]
) -> None:
    """A request from another site's page is refused on every route, open ones included."""
    wrong = await misanswered(anon, owner_app, walk(owner_app), page, (403, "cross_site_refused"))

    assert wrong == []


async def test_another_sites_page_is_refused_even_with_a_token(
    owner_app: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """A stolen-by-script token does not help a foreign page: its Origin is refused first."""
    headers = authorized(pair_device(settings, "phone")) | {"Origin": "https://evil.example"}

    assert await answer(anon, owner_app, "GET", "/api/help-count", headers) == (
        403,
        "cross_site_refused",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "OWN"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "OWN", "Sec-Fetch-Site": "same-origin"},
    ],
)
async def test_the_dashboards_own_origin_is_the_owner(
    owner_app: AppClient, anon: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    """The dashboard's own page (its origin, or a typed address) may use an owner route."""
    own = f"http://{owner_app.host}:{owner_app.port}"
    sent = {k: (own if v == "OWN" else v) for k, v in headers.items()}

    status, _ = await answer(anon, owner_app, "GET", "/api/devices", sent)

    assert status == 200
