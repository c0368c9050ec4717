"""Who may talk to the daemon: tokens, their header and query forms, Host, revoked sockets.

The walk over every route for each kind of caller is in `test_access.py`.
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest
from aiohttp import WSMsgType

from edge import pairing
from edge.settings import EdgeSettings
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    authorized,
    data_of,
    error_of,
    pair_device,
    services_of,
)

#: A private route that answers 200 to any paired device.
PRIVATE = "/api/help-count"
#: A hang guard, not a timing claim: a revoked socket closes at the daemon's next look (each
#: second); how soon is a latency figure, not something a unit test on a busy machine can pin.
HANG_GUARD = 15.0

#: A token nobody was given (43 url-safe characters, like a real one).
MADE_UP = "made-up-token-0123456789abcdefghijklmnopqrs"

HOSTNAME = socket.gethostname()
SHORT = HOSTNAME.split(".")[0]


async def device_id_of(client: AppClient, name: str) -> str:
    """The id of the paired device called `name`."""
    devices = await services_of(client).store.run(pairing.list_devices)
    [device] = [d for d in devices if d.name == name]
    return device.device_id


async def revoke(client: AppClient, device_id: str, clock: FakeClock) -> None:
    """Revoke a device through the daemon's store."""
    await services_of(client).store.run(lambda db: pairing.revoke(db, device_id, clock.now()))


# --- tokens -------------------------------------------------------------------------------------


async def test_a_token_works_until_it_is_revoked(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings, clock: FakeClock
) -> None:
    """The same token answers 200 before revocation and 401 right after it."""
    token = pair_device(settings, "phone to revoke")
    url = client.make_url(PRIVATE)
    await data_of(await anon.get(url, headers=authorized(token)))

    await revoke(client, await device_id_of(client, "phone to revoke"), clock)

    assert (await error_of(await anon.get(url, headers=authorized(token)), 401))["code"] == (
        "unauthorized"
    )


async def test_health_answers_without_a_token(
    client: AppClient, anon: aiohttp.ClientSession
) -> None:
    """GET /healthz is open."""
    await data_of(await anon.get(client.make_url("/healthz")))


async def test_pairing_answers_without_a_token(
    client: AppClient, anon: aiohttp.ClientSession
) -> None:
    """POST /api/pair is open: an empty body is judged on its merits (400), not refused (401)."""
    response = await anon.post(client.make_url("/api/pair"), json={})

    assert (await error_of(response, 400))["code"] == "invalid_request"


async def test_a_paired_device_reaches_a_private_route(client: AppClient) -> None:
    """The test client's own token opens a private route."""
    await data_of(await client.get(PRIVATE))


async def test_the_bearer_scheme_is_case_insensitive(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """`bearer <token>` works like `Bearer <token>`."""
    token = pair_device(settings, "lowercase phone")

    await data_of(
        await anon.get(client.make_url(PRIVATE), headers={"Authorization": f"bearer {token}"})
    )


async def test_another_scheme_is_refused(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """A valid token under `Basic` is not a Bearer token: 401."""
    token = pair_device(settings, "basic phone")

    response = await anon.get(client.make_url(PRIVATE), headers={"Authorization": f"Basic {token}"})

    assert (await error_of(response, 401))["code"] == "unauthorized"


async def test_a_query_token_does_not_open_http_routes(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """`?token=` is for the WebSocket only; a plain HTTP route still answers 401."""
    token = pair_device(settings, "query phone")

    response = await anon.get(client.make_url(PRIVATE).with_query(token=token))

    assert (await error_of(response, 401))["code"] == "unauthorized"


# --- the WebSocket ------------------------------------------------------------------------------


async def test_the_websocket_is_refused_without_a_token(
    client: AppClient, anon: aiohttp.ClientSession
) -> None:
    """The upgrade to /ws fails with 401 when no token comes along."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await anon.ws_connect(client.make_url("/ws"))

    assert refused.value.status == 401


async def test_the_websocket_is_refused_with_a_made_up_query_token(
    client: AppClient, anon: aiohttp.ClientSession
) -> None:
    """A `?token=` nobody was given fails the upgrade with 401."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await anon.ws_connect(client.make_url("/ws").with_query({"token": MADE_UP}))

    assert refused.value.status == 401


async def test_the_websocket_is_refused_with_a_revoked_query_token(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings, clock: FakeClock
) -> None:
    """A revoked device's `?token=` fails the upgrade with 401."""
    token = pair_device(settings, "revoked phone")
    await revoke(client, await device_id_of(client, "revoked phone"), clock)

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await anon.ws_connect(client.make_url("/ws").with_query(token=token))

    assert refused.value.status == 401


async def test_the_websocket_accepts_a_query_token(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """With `?token=` the socket opens and talks: `stop` is answered with `closing`."""
    token = pair_device(settings, "browser")

    async with anon.ws_connect(client.make_url("/ws").with_query(token=token)) as ws:
        await ws.send_json({"type": "stop"})
        message = await ws.receive(timeout=5)

    assert message.type == WSMsgType.TEXT
    assert json.loads(message.data) == {"type": "closing", "reason": "stopped"}


async def test_the_websocket_accepts_a_bearer_header(client: AppClient) -> None:
    """The test client's Authorization header also opens the socket."""
    async with client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "stop"})
        message = await ws.receive(timeout=5)

    assert json.loads(message.data)["type"] == "closing"


# --- the Host header ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8765", "localhost.evil.example", "127.0.0.1.nip.io"],
)
async def test_a_foreign_host_is_refused_even_with_a_token(client: AppClient, host: str) -> None:
    """A Host that is not one of our names answers 403 host_not_allowed, token or not."""
    response = await client.get(PRIVATE, headers={"Host": host})

    assert (await error_of(response, 403))["code"] == "host_not_allowed"


async def test_a_foreign_host_is_refused_on_open_routes(client: AppClient) -> None:
    """The Host check also guards /healthz, which needs no token."""
    response = await client.get("/healthz", headers={"Host": "evil.example"})

    assert (await error_of(response, 403))["code"] == "host_not_allowed"


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8765",
        "127.0.0.1",
        "127.0.0.1:8765",
        "[::1]:8765",
        "192.168.1.20",
        "192.168.1.20:8765",
        HOSTNAME,
        f"{HOSTNAME}:8765",
        f"{SHORT}.local",
        f"{SHORT}.local:8765",
        "LOCALHOST:8765",
    ],
)
async def test_our_own_names_and_addresses_are_accepted(client: AppClient, host: str) -> None:
    """Host headers naming this machine, or any IP literal, reach the route."""
    await data_of(await client.get(PRIVATE, headers={"Host": host}))


async def test_an_extra_allowed_host_is_accepted(start_app: StartApp) -> None:
    """A name from the `allowed_hosts` setting is accepted."""
    client = await start_app(allowed_hosts=["studylens.lan"])

    await data_of(await client.get(PRIVATE, headers={"Host": "studylens.lan:8765"}))


async def test_without_the_setting_that_name_is_refused(client: AppClient) -> None:
    """The same extra name is refused by a daemon that was not told about it."""
    response = await client.get(PRIVATE, headers={"Host": "studylens.lan:8765"})

    assert (await error_of(response, 403))["code"] == "host_not_allowed"


# --- revocation and open sockets ----------------------------------------------------------------


async def read_until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, object]]:
    """The JSON events the socket sends until it closes (fails after HANG_GUARD s)."""
    events: list[dict[str, object]] = []
    try:
        async with asyncio.timeout(HANG_GUARD):
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    events.append(json.loads(message.data))
    except TimeoutError:
        raise AssertionError(
            f"socket still open {HANG_GUARD} s after revocation; events: {events}"
        ) from None
    return events


async def test_revoking_a_device_closes_its_voice_socket(
    voice_client: AppClient, realtime_peer: FakeRealtime, clock: FakeClock
) -> None:
    """Within about two seconds of revocation the live voice socket says `closing: revoked`."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start"})
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "ready"
        await revoke(voice_client, await device_id_of(voice_client, "test phone"), clock)

        events = await read_until_closed(ws)

        assert {"type": "closing", "reason": "revoked"} in events, events
        assert ws.closed


async def test_revoking_a_device_closes_its_socket_before_start(
    voice_client: AppClient, realtime_peer: FakeRealtime, clock: FakeClock
) -> None:
    """A revoked device's socket that has not sent `start` yet is closed too."""
    async with voice_client.ws_connect("/ws") as ws:
        await revoke(voice_client, await device_id_of(voice_client, "test phone"), clock)

        await read_until_closed(ws)

        assert ws.closed


async def test_other_devices_keep_working_after_a_revocation(
    voice_client: AppClient,
    realtime_peer: FakeRealtime,
    anon: aiohttp.ClientSession,
    settings: EdgeSettings,
    clock: FakeClock,
) -> None:
    """While a revoked device's socket is closed, another device's requests still answer 200."""
    other = pair_device(settings, "other phone")
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start"})
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "ready"
        await revoke(voice_client, await device_id_of(voice_client, "test phone"), clock)
        await read_until_closed(ws)

    await data_of(await anon.get(voice_client.make_url(PRIVATE), headers=authorized(other)))
    refused = await voice_client.get(PRIVATE)  # the revoked default token
    assert (await error_of(refused, 401))["code"] == "unauthorized"
