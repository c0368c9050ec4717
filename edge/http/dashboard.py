"""The dashboard: its page and assets, the reads behind it, pairing from it, and live events."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import segno
import sqlite_utils
from aiohttp import web

from edge import analytics, pairing
from edge.dashboard import queries
from edge.dashboard.models import (
    DeviceList,
    DeviceRevoked,
    DeviceView,
    FrameList,
    PairingOffer,
    SessionList,
)
from edge.discovery import advertise_interfaces, local_addresses
from edge.errors import InvalidRequest
from edge.http.access import CALLER
from edge.http.context import services
from edge.http.envelope import ok
from shared.clock import to_iso

routes = web.RouteTableDef()
STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
#: Comment lines keep idle connections open through proxies.
HEARTBEAT_SECONDS = 15.0
#: How soon a stream whose browser went away is noticed and its share given back.
POLL_SECONDS = 1.0


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


def _limit(request: web.Request, default: int, most: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {most}.")
    return int(raw)


@routes.get("/")
async def page(request: web.Request) -> web.FileResponse:
    """The dashboard (data comes from the API, so the page itself is open)."""
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/api/dashboard/today")
async def today(request: web.Request) -> web.Response:
    """Today's totals, the split by engagement, the running session's timeline, help asked."""
    s = services(request)
    current = s.sessions.current()
    board = await s.store.run(lambda db: queries.today_board(db, s.clock.now(), s.zone, current))
    return ok(board)


@routes.get("/api/frames/recent")
async def recent_frames(request: web.Request) -> web.Response:
    """The latest frames with their analysis, newest first (`limit`, at most 100)."""
    limit = _limit(request, 24, 100)
    frames = await services(request).store.run(lambda db: queries.recent_frames(db, limit))
    return ok(FrameList(frames=frames))


@routes.get("/api/sessions")
async def sessions(request: web.Request) -> web.Response:
    """The latest sessions with their totals, newest first (`limit`, at most 200)."""
    s = services(request)
    limit = _limit(request, 20, 200)
    found = await s.store.run(
        lambda db: analytics.recent_sessions(db, s.clock.now(), s.zone, limit)
    )
    return ok(SessionList(sessions=found))


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


@routes.get("/api/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `frame`, `session` and `pairing` as they happen (`?token=` allowed)."""
    bus = services(request).events
    device_id = request[CALLER].device_id
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    # Subscribed before `connected` is written: a client that has read it misses nothing.
    with bus.subscribe(device_id) as stream, suppress(ConnectionResetError):
        await response.prepare(request)
        await response.write(b"retry: 2000\n: connected\n\n")
        quiet = 0.0
        while not stream.ended and _connected(request):
            event = await stream.next(POLL_SECONDS)
            if event is not None:
                body = json.dumps(event.data, separators=(",", ":"))
                await response.write(
                    f"id: {event.seq}\nevent: {event.kind}\ndata: {body}\n\n".encode()
                )
                quiet = 0.0
            elif (quiet := quiet + POLL_SECONDS) >= HEARTBEAT_SECONDS:
                await response.write(b": heartbeat\n\n")
                quiet = 0.0
    return response
