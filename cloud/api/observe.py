"""One log line and one histogram sample per request, each line of it tagged with its request id.

Pure ASGI (not `BaseHTTPMiddleware`), so streamed answers (the export) pass through untouched.
The route is the template FastAPI matched (`/api/devices/{device_id}`), never the path or query a
client sent, so no line carries an id from a URL or a token from a query string.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.metrics import CloudMetrics
from shared.logs import new_request_id, request_id

log = logging.getLogger("cloud.requests")
REQUEST_ID_HEADER = b"x-request-id"
#: Where the auth dependency leaves the hashed caller for this line (`request.state`).
CALLER_STATE = "caller_hash"


def route_of(scope: Scope) -> str:
    """The template of the route that answered, or `unmatched`."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestLog:
    """Give each request an id (`X-Request-Id`, the client's if it is a plain token), log it."""

    def __init__(self, app: ASGIApp, metrics: CloudMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its id in context; log and count it when it is answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(REQUEST_ID_HEADER)
        rid = new_request_id(offered.decode("latin-1") if offered else None)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, rid.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            seconds = time.perf_counter() - started
            route, method = route_of(scope), scope["method"]
            self.metrics.request_seconds.labels(method, route, str(status)).observe(seconds)
            state = scope.get("state") or {}
            log.info(
                "%s %s %d %.1f ms",
                method,
                route,
                status,
                seconds * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "durationMs": round(seconds * 1000, 1),
                    "user": state.get(CALLER_STATE),
                },
            )
            request_id.reset(token)
