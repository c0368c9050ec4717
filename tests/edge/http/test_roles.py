"""Owner and phone: what a paired phone may not do, what revocation reaches, what a page cannot.

The walk over every route is in `test_access.py`; these follow single scenarios end to end.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

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


async def device_named(client: AppClient, name: str) -> pairing.DeviceRecord:
    """The paired device called `name`."""
    devices = await services_of(client).store.run(pairing.list_devices)
    [device] = [d for d in devices if d.name == name]
    return device


async def test_a_phone_cannot_cancel_the_owners_pairing_code(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """A phone asking for a code gets 403, and the code the owner shows still pairs."""
    phone = authorized(pair_device(settings, "phone"))
    offer = await data_of(await owner.post("/api/pair/code"))

    refused = await anon.post(owner.make_url("/api/pair/code"), headers=phone)

    assert (await error_of(refused, 403))["code"] == "forbidden"
    body = {"code": offer["code"], "deviceName": "new phone"}
    await data_of(await anon.post(owner.make_url("/api/pair"), json=body), 201)


async def test_a_phone_cannot_revoke_another(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """DELETE /api/devices/{id} from a phone is 403 and the other phone keeps working."""
    rogue = authorized(pair_device(settings, "rogue"))
    victim_token = pair_device(settings, "victim")
    victim = await device_named(owner, "victim")

    refused = await anon.delete(owner.make_url(f"/api/devices/{victim.device_id}"), headers=rogue)

    assert (await error_of(refused, 403))["code"] == "forbidden"
    ok = await anon.get(owner.make_url("/api/help-count"), headers=authorized(victim_token))
    await data_of(ok)


async def test_a_phone_reads_its_own_record_only(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """GET /api/devices/me is the caller's own device, not the list."""
    pair_device(settings, "someone else")
    mine = authorized(pair_device(settings, "my phone"))

    record = await data_of(await anon.get(owner.make_url("/api/devices/me"), headers=mine))

    assert record["name"] == "my phone"
    assert record["pairedBy"] == pairing.OWNER
    assert record["deviceId"] == (await device_named(owner, "my phone")).device_id


async def test_the_owner_has_no_device_record(owner: AppClient) -> None:
    """The owner is not a paired device: /api/devices/me is 404 for it."""
    assert (await error_of(await owner.get("/api/devices/me"), 404))["code"] == ("device_not_found")


async def test_revoking_a_device_revokes_those_it_let_in(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings, clock: FakeClock
) -> None:
    """A device paired with a code another device made (before roles) falls with its maker."""
    pair_device(settings, "maker")
    maker = await device_named(owner, "maker")
    ttl = timedelta(minutes=5)

    def pair_through_maker(db: object) -> pairing.Paired:
        code = pairing.new_code(db, clock.now(), ttl, made_by=maker.device_id)  # type: ignore[arg-type]
        return pairing.redeem(db, code.code, "let in", clock.now())  # type: ignore[arg-type]

    let_in = await services_of(owner).store.run(pair_through_maker)

    answer = await data_of(await owner.delete(f"/api/devices/{maker.device_id}"))

    assert answer["alsoRevoked"] == [let_in.device_id]
    refused = await anon.get(owner.make_url("/api/help-count"), headers=authorized(let_in.token))
    assert (await error_of(refused, 401))["code"] == "unauthorized"


async def test_a_revoked_phones_event_stream_ends(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """The live event stream of a phone ends when the owner revokes it."""
    token = pair_device(settings, "watching phone")
    phone = await device_named(owner, "watching phone")
    async with anon.get(owner.make_url("/api/events"), headers=authorized(token)) as stream:
        assert stream.status == 200
        await stream.content.readuntil(b"connected\n\n")

        await data_of(await owner.delete(f"/api/devices/{phone.device_id}"))

        async with asyncio.timeout(5):
            rest = await stream.content.read()
    assert b"event:" not in rest


async def test_another_sites_websocket_is_refused_before_any_work(
    start_app: StartApp, realtime_peer: FakeRealtime, anon: aiohttp.ClientSession
) -> None:
    """An upgrade from another origin is 403: no `ready`, no session row, no Realtime call."""
    from pydantic import SecretStr

    client = await start_app(
        open_on_localhost=True,
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        realtime_url=realtime_peer.websocket_base_url,
    )

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await anon.ws_connect(client.make_url("/ws"), origin="https://evil.example")

    assert refused.value.status == 403
    sessions = await data_of(await anon.get(client.make_url("/api/sessions")))
    assert sessions["sessions"] == []
    assert realtime_peer.connections == 0


async def test_the_dashboards_own_websocket_is_admitted(
    start_app: StartApp, anon: aiohttp.ClientSession
) -> None:
    """The same upgrade from the daemon's own origin opens."""
    client = await start_app(open_on_localhost=True)
    own = f"http://{client.host}:{client.port}"

    async with anon.ws_connect(client.make_url("/ws"), origin=own) as ws:
        await ws.send_json({"type": "stop"})
        message = await ws.receive(timeout=5)

    assert message.json()["type"] in {"closing", "error"}
