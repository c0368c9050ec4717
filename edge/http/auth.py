"""Who may talk to the daemon: a Host check against DNS rebinding, and device tokens.

Every route needs `Authorization: Bearer <device token>` (the WebSocket and the event stream
may pass `?token=`, since browsers cannot set headers on them), except the open ones below and,
when `open_on_localhost` is on, requests from this computer itself (the dashboard on the laptop).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

from edge.errors import Forbidden, HostNotAllowed, Unauthorized
from edge.pairing import authenticate
from edge.store import Store

#: Reachable without a token: liveness, pairing, and the dashboard's page (its data is not).
OPEN_PATHS = frozenset({"/healthz", "/api/pair", "/"})
#: Static assets of the dashboard: code and styles, nothing private.
OPEN_PREFIXES = ("/static/",)
#: Where a browser cannot send headers, the token may come as `?token=`.
QUERY_TOKEN_PATHS = frozenset({"/ws", "/api/events"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEVICE_ID = web.RequestKey("device_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostGuard:
    """Accepts Host headers that name this machine, or any IP literal.

    A rebinding attack needs a host *name* the attacker controls that resolves to us; a bare
    IP in Host cannot carry a foreign origin, so any IP literal is fine.
    """

    def __init__(self, extra_names: Iterable[str] = ()) -> None:
        hostname = socket.gethostname().lower()
        short = hostname.split(".")[0]
        self.names = {
            "localhost",
            hostname,
            short,
            f"{short}.local",
            *(name.lower() for name in extra_names),
        }

    def allows(self, host_header: str | None) -> bool:
        """Whether a Host header (with or without port) names us."""
        if not host_header:
            return False
        host = host_header.strip().lower()
        if host.startswith("["):  # [IPv6]:port
            host = host[1 : host.find("]")] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":")[0]
        host = host.rstrip(".")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host in self.names
        return True


def is_local(request: web.Request) -> bool:
    """Whether the request comes from this computer (a loopback peer address)."""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def same_origin(request: web.Request) -> bool:
    """No `Origin` (not a browser's cross-site request), or one naming this very host.

    A page on another site open in the laptop's browser could otherwise make the browser
    post to the local daemon (CSRF); browsers always send `Origin` on such requests.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


def auth_middleware(
    store: Store, guard: HostGuard, *, open_on_localhost: bool = False
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware: Host first, then the device token (or this computer's own browser)."""

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not guard.allows(request.headers.get("Host")):
            raise HostNotAllowed("This daemon does not answer to that host name.")
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            return await handler(request)
        token = bearer(request)
        if token is None and request.path in QUERY_TOKEN_PATHS:
            token = request.query.get("token")
        if token is None and open_on_localhost and is_local(request):
            if request.method in SAFE_METHODS or same_origin(request):
                return await handler(request)
            raise Forbidden("Cross-site requests to the local daemon are refused.")
        device = await store.run(lambda db: authenticate(db, token)) if token else None
        if device is None:
            raise Unauthorized(
                "Pair this device first: POST /api/pair with the code shown on the laptop, "
                "then send its token as Authorization: Bearer."
            )
        request[DEVICE_ID] = device
        return await handler(request)

    return authorize


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
