"""The dashboard: its page and assets, the reads behind it, and live events."""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path

from aiohttp import web

from edge import analytics
from edge.dashboard import queries
from edge.dashboard.models import FrameList, SessionList
from edge.http.access import CALLER
from edge.http.context import services
from edge.http.envelope import ok, query_limit

routes = web.RouteTableDef()
STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
#: Comment lines keep idle connections open through proxies.
HEARTBEAT_SECONDS = 15.0
#: How soon a stream whose browser went away is noticed and its share given back.
POLL_SECONDS = 1.0


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


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
    limit = query_limit(request, 24, 100)
    frames = await services(request).store.run(lambda db: queries.recent_frames(db, limit))
    return ok(FrameList(frames=frames))


@routes.get("/api/sessions")
async def sessions(request: web.Request) -> web.Response:
    """The latest sessions with their totals, newest first (`limit`, at most 200)."""
    s = services(request)
    limit = query_limit(request, 20, 200)
    found = await s.store.run(
        lambda db: analytics.recent_sessions(db, s.clock.now(), s.zone, limit)
    )
    return ok(SessionList(sessions=found))


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
