"""Routes for what the student marks during a session: bookmarks and help requests."""

from __future__ import annotations

from aiohttp import web

from edge.bookmarks import BookmarkRequest, add_bookmark
from edge.help_requests import HelpCountRequest, count_help_request, help_report
from edge.http.context import services
from edge.http.envelope import ok, query_date, read_json
from shared.clock import local_date

routes = web.RouteTableDef()


@routes.post("/api/bookmark")
async def bookmark(request: web.Request) -> web.Response:
    """Mark a moment of a session, optionally one analysed frame, with a note."""
    body = await read_json(request, BookmarkRequest)
    s = services(request)
    now = s.clock.now()
    saved = await s.store.run(
        lambda db: add_bookmark(db, body.session_id, body.analysis_id, body.note, now)
    )
    await s.sessions.touch(body.session_id)
    return ok(saved, status=201)


@routes.post("/api/help-count")
async def help_count(request: web.Request) -> web.Response:
    """Count one help request in a running session."""
    body = await read_json(request, HelpCountRequest)
    s = services(request)
    now = s.clock.now()
    counted = await s.store.run(lambda db: count_help_request(db, body.session_id, now, s.zone))
    await s.sessions.touch(body.session_id)
    return ok(counted, status=201)


@routes.get("/api/help-count")
async def help_counts(request: web.Request) -> web.Response:
    """Help requests on `?date=YYYY-MM-DD` (default today), per session."""
    s = services(request)
    day = query_date(request, "date", local_date(s.clock.now(), s.zone))
    return ok(await s.store.run(lambda db: help_report(db, day)))
