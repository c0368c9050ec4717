"""The daemon advertises itself by mDNS while it runs (wired in the app factory)."""

from __future__ import annotations

import uuid

from edge import pairing
from edge.discovery import discover
from tests.support import StartApp, services_of


async def test_running_daemon_is_found_with_its_id_and_pairing_state(start_app: StartApp) -> None:
    """A browser on loopback finds the daemon; its TXT carries the stable id and pairing state."""
    # A name of its own: another run on this machine must not be mistaken for this daemon.
    client = await start_app(mdns=True, host="127.0.0.1", mdns_name=f"t-{uuid.uuid4().hex[:8]}")
    store = services_of(client).store
    expected_id = await store.run(pairing.daemon_id)
    found = await discover(4.0, interfaces=["127.0.0.1"])
    mine = [f for f in found if f.txt.get("id") == expected_id]
    assert mine, f"not found among {found}"
    assert mine[0].txt["pairing"] == "closed"
    assert mine[0].port == 8765


async def test_device_id_is_the_same_after_a_restart(start_app: StartApp) -> None:
    """The id in the advert survives a restart on the same data dir."""
    first = await start_app(mdns=False)
    before = await services_of(first).store.run(pairing.daemon_id)
    await first.close()
    second = await start_app(mdns=False)
    assert await services_of(second).store.run(pairing.daemon_id) == before
