"""The privacy switch over HTTP: pause and resume capture (phone and owner)."""

from __future__ import annotations

from aiohttp import web

from edge.http.context import services
from edge.http.envelope import ok, read_json
from edge.privacy.pause import PauseRequest, ResumeRequest

routes = web.RouteTableDef()


@routes.post("/api/privacy/pause")
async def pause(request: web.Request) -> web.Response:
    """Pause capture for `minutes` (1 to 1440), or until resumed (`null`); answers the state."""
    s = services(request)
    body = await read_json(request, PauseRequest)
    return ok(await s.pause.pause(body.minutes))


@routes.post("/api/privacy/resume")
async def resume(request: web.Request) -> web.Response:
    """End the pause (fine when none is on); answers the state."""
    s = services(request)
    await read_json(request, ResumeRequest)
    return ok(await s.pause.resume())
