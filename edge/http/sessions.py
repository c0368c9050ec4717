"""Routes of the session lifecycle and per-session reads."""

from __future__ import annotations

from aiohttp import web

from edge import bookmarks
from edge.http.context import services
from edge.http.envelope import ok, read_json
from edge.sessions.models import SessionStartRequest
from edge.sessions.stats import session_stats

routes = web.RouteTableDef()


@routes.post("/api/session/start")
async def start_session(request: web.Request) -> web.Response:
    """Start a study session (ending one still running)."""
    await read_json(request, SessionStartRequest)
    return ok(await services(request).sessions.start(), status=201)


@routes.post("/api/session/{session_id}/end")
async def end_session(request: web.Request) -> web.Response:
    """End a running session and return its totals."""
    return ok(await services(request).sessions.end(request.match_info["session_id"]))


@routes.get("/api/session/{session_id}/topic-stats")
async def session_topic_stats(request: web.Request) -> web.Response:
    """Topic totals of one session, counting a running one up to now."""
    s = services(request)
    session_id, now = request.match_info["session_id"], s.clock.now()
    return ok(await s.store.run(lambda db: session_stats(db, session_id, now, s.zone)))


@routes.get("/api/session/{session_id}/bookmarks")
async def session_bookmarks(request: web.Request) -> web.Response:
    """The bookmarks of one session."""
    session_id = request.match_info["session_id"]
    return ok(
        await services(request).store.run(lambda db: bookmarks.session_bookmarks(db, session_id))
    )
