"""One log line per request, each line of it tagged with its request id (`X-Request-Id`).

The route is the pattern aiohttp matched (`/api/session/{session_id}/end`), never the path or
the query (`/api/events?token=` carries a device token), and the caller is a pseudonym of the
paired device's id, or `owner`. Successes are DEBUG (a phone sends a frame every second or two),
refusals INFO, failures WARNING.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from edge.http.access import CALLER
from edge.http.envelope import Handler
from shared.logs import hash_id, new_request_id, request_id

log = logging.getLogger("edge.requests")
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)


def route_of(request: web.Request) -> str:
    """The pattern of the route that answered, or `unmatched`."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def caller_of(request: web.Request) -> str | None:
    """Who asked: `owner`, a device's pseudonym, or None before the access rules passed it."""
    found = request.get(CALLER)
    if found is None:
        return None
    return hash_id(found.device_id) if found.device_id is not None else "owner"


@web.middleware
async def requests_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve the request with its id in context; log it when it is answered."""
    rid = request[REQUEST_ID] = new_request_id(request.headers.get(REQUEST_ID_HEADER))
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        seconds = time.perf_counter() - started
        level = logging.DEBUG if status < 400 else logging.INFO if status < 500 else logging.WARNING
        route = route_of(request)
        log.log(
            level,
            "%s %s %d %.1f ms",
            request.method,
            route,
            status,
            seconds * 1000,
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "durationMs": round(seconds * 1000, 1),
                "user": caller_of(request),
            },
        )
        request_id.reset(token)


async def tag_response(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the id goes out with the headers of every answer, streams too."""
    if REQUEST_ID in request:
        response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
