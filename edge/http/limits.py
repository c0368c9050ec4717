"""Bounds on what one client can hold: open requests per address, and time to send a body.

A request that declares a body and then trickles it (or stops) would otherwise keep a
connection and a handler for as long as the client likes, also on open routes such as
`/api/pair`; many of them from one address would starve the phone.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from edge.errors import RequestTimeout, TooManyConnections
from edge.settings import LimitSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: How long this request's body may take to arrive, set by the middleware.
BODY_TIMEOUT = web.RequestKey("body_timeout", float)


def limits_middleware(limits: LimitSettings) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse (429) a request past `max_requests_per_client` open ones from the same address.

    Open WebSockets and event streams count for as long as they stay open.
    """
    max_requests_per_client = limits.max_requests_per_client
    body_timeout_seconds = limits.body_timeout_seconds
    in_flight: Counter[str] = Counter()

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = request.remote or "unknown"
        if in_flight[client] >= max_requests_per_client:
            raise TooManyConnections(
                f"This address already has {max_requests_per_client} requests open; "
                "close some and try again.",
                headers={"Retry-After": "1", "Connection": "close"},
            )
        request[BODY_TIMEOUT] = body_timeout_seconds
        in_flight[client] += 1
        try:
            return await handler(request)
        finally:
            in_flight[client] -= 1
            if not in_flight[client]:
                del in_flight[client]

    return limit


@asynccontextmanager
async def body_deadline(request: web.Request) -> AsyncIterator[None]:
    """Reading the body inside this block takes at most the request's body timeout, else 408."""
    seconds = request.get(BODY_TIMEOUT)
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        raise RequestTimeout(
            f"The request body did not arrive within {seconds:g} s.",
            headers={"Connection": "close"},
        ) from exc
