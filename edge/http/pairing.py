"""Who is let in: pairing codes (the owner's), `POST /api/pair`, and the paired devices."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

import segno
import sqlite_utils
from aiohttp import web
from pydantic import Field

from edge import pairing
from edge.dashboard.models import DeviceList, DeviceRevoked, DeviceView, PairingOffer
from edge.discovery import advertise_interfaces, local_addresses
from edge.errors import PairingLocked
from edge.http.access import CALLER
from edge.http.context import services
from edge.http.envelope import ok, read_json
from edge.pairing import GUESS_BUDGET, PairingFailed, daemon_id, redeem
from shared.clock import to_iso
from shared.schemas import RequestModel, WireModel

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class PairRequest(RequestModel):
    """Body of `POST /api/pair`."""

    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    device_name: Annotated[str, Field(min_length=1, max_length=80)]


class PairedDevice(WireModel):
    """The new device's credentials; the token is shown this once."""

    device_id: str
    token: str
    daemon_id: str
    tls_fingerprint: str | None = None


@routes.post("/api/pair")
async def pair(request: web.Request) -> web.Response:
    """Exchange the code shown on the laptop for a device token (rate-limited)."""
    s = services(request)
    client = request.remote or "unknown"
    # The daemon's clock (tests move it), as seconds; the lock-out only compares them.
    wait = s.lockout.retry_after(client, s.clock.now().timestamp())
    if wait > 0:
        raise PairingLocked(
            f"Too many wrong codes; try again in {math.ceil(wait)} s.",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    # Counted as a failure before the first await, so parallel guesses cannot all slip in
    # under the limit; a right code clears it again.
    s.lockout.failed(client, s.clock.now().timestamp())
    body = await read_json(request, PairRequest)
    now = s.clock.now()
    try:
        paired = await s.store.run(lambda db: redeem(db, body.code, body.device_name, now))
    except PairingFailed as exc:
        if exc.withdrew_code:
            log.warning(
                "pairing code withdrawn after %d wrong guesses; make a new one", GUESS_BUDGET
            )
            s.events.publish("pairing", {"state": "withdrawn"})
        raise
    s.lockout.succeeded(client)
    s.events.publish("pairing", {"state": "paired", "deviceId": paired.device_id})
    identity = await s.store.run(daemon_id)
    return ok(
        PairedDevice(
            device_id=paired.device_id,
            token=paired.token,
            daemon_id=identity,
            tls_fingerprint=s.certificate.fingerprint if s.certificate else None,
        ),
        status=201,
    )


def _view(device: pairing.DeviceRecord) -> DeviceView:
    return DeviceView(
        device_id=device.device_id,
        name=device.name,
        created_at=device.created_at,
        revoked_at=device.revoked_at,
        paired_by=device.paired_by,
    )


@routes.get("/api/devices")
async def devices(request: web.Request) -> web.Response:
    """The paired phones (the owner's view)."""
    found = await services(request).store.run(pairing.list_devices)
    return ok(DeviceList(devices=[_view(d) for d in found]))


@routes.get("/api/devices/me")
async def this_device(request: web.Request) -> web.Response:
    """The calling phone's own record."""
    device_id = request[CALLER].device_id
    if device_id is None:
        raise pairing.DeviceNotFound("The owner is not a paired device; see GET /api/devices.")
    return ok(
        _view(await services(request).store.run(lambda db: pairing.find_device(db, device_id)))
    )


@routes.delete("/api/devices/{device_id}")
async def revoke_device(request: web.Request) -> web.Response:
    """Revoke a phone and whatever it let in: tokens stop at once, sockets close."""
    s = services(request)
    device_id = request.match_info["device_id"]
    reached = await s.store.run(lambda db: pairing.revoke(db, device_id, s.clock.now()))
    await s.voice.close_devices(set(reached), "revoked")
    s.events.close_devices(set(reached))
    also = [other for other in reached if other != device_id]
    return ok(DeviceRevoked(device_id=device_id, revoked=True, also_revoked=also))


@routes.post("/api/pair/code")
async def pairing_code(request: web.Request) -> web.Response:
    """A fresh one-time pairing code, with a QR code that carries it and this daemon's address."""
    s = services(request)
    now = s.clock.now()
    ttl = timedelta(minutes=s.settings.access.pairing_code_minutes)

    def make(db: sqlite_utils.Database) -> tuple[pairing.PairingCode, str]:
        return pairing.new_code(db, now, ttl), pairing.daemon_id(db)

    code, daemon = await s.store.run(make)
    s.events.publish("pairing", {"state": "open", "expiresAt": to_iso(code.expires_at)})
    addresses = local_addresses(advertise_interfaces(s.settings.host))
    host = addresses[0] if addresses else request.host.split(":")[0]
    scheme = "https" if s.certificate else "http"
    query = {"url": f"{scheme}://{host}:{s.settings.port}", "code": code.code, "id": daemon}
    if s.certificate is not None:
        query["fingerprint"] = s.certificate.fingerprint
    pair_url = f"studylens://pair?{urlencode(query)}"
    svg = segno.make(pair_url, error="m").svg_inline(scale=5, dark="#1d2330")
    return ok(
        PairingOffer(code=code.code, expires_at=code.expires_at, pair_url=pair_url, qr_svg=svg)
    )
