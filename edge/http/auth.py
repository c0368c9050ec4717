"""Who may talk to the daemon: Host (DNS rebinding), Origin (other sites), then the caller's role.

Every request passes three gates before any handler runs: its `Host` must name this machine,
any `Origin` (or `Sec-Fetch-Site`) must be the daemon's own, and the route's access decision
(`edge.http.access`) must admit the caller: a paired phone's `Authorization: Bearer` token (the
WebSocket and the event stream may pass `?token=`, since browsers cannot set headers on them),
or the owner, which is this computer's own browser when `open_on_localhost` is on.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

from edge.errors import CrossSiteRefused, Forbidden, HostNotAllowed, Unauthorized
from edge.http.access import CALLER, QUERY_TOKEN_ROUTES, Access, Caller, Role, access_of, route_key
from edge.pairing import authenticate
from edge.store import Store

#: RFC 6750's b64token, bounded: anything else cannot be a token we issued.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,256}=*")
#: `Sec-Fetch-Site` values a browser sends for the daemon's own pages and typed addresses.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

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


def _origin_of(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if unparsable."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = scheme.lower()
    return scheme, host.rstrip("."), port or _DEFAULT_PORTS.get(scheme, 0)


def same_origin(request: web.Request) -> bool:
    """No `Origin` (not a browser, or a browser's own navigation), or the daemon's own.

    A page of another site open in the student's browser can make it call the daemon, also
    by WebSocket or event stream, which carry no custom headers; browsers send `Origin` on
    those (`null` from sandboxed frames and files, which is nobody's origin), and
    `Sec-Fetch-Site` on requests to localhost even where they leave `Origin` out.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in _OWN_FETCH_SITES:
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    scheme, sep, netloc = origin.strip().partition("://")
    if not sep or "/" in netloc or not netloc:
        return False
    theirs = _origin_of(scheme, netloc)
    return theirs is not None and theirs == _origin_of(request.scheme, request.host)


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any; 401 if it cannot be a token."""
    raw = request.headers.get("Authorization")
    if raw is None:
        return None
    scheme, _, token = raw.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return valid_token(token.strip())


def valid_token(token: str) -> str:
    """`token` if it has a token's shape, else 401 (stray bytes never reach the store)."""
    if not _TOKEN.fullmatch(token):
        raise Unauthorized("The device token is malformed; pair this device again.")
    return token


def auth_middleware(
    store: Store, guard: HostGuard, *, open_on_localhost: bool = False
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware: Host, then Origin, then the route's access decision for the caller."""

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not guard.allows(request.headers.get("Host")):
            raise HostNotAllowed("This daemon does not answer to that host name.")
        if not same_origin(request):
            raise CrossSiteRefused(
                "Requests from other sites' pages are refused; open the dashboard itself."
            )
        key = route_key(request)
        access = access_of(key)
        if access is Access.OPEN:
            return await handler(request)
        caller = await identify(request, key, store, open_on_localhost)
        if access is Access.OWNER and caller.role is not Role.OWNER:
            raise Forbidden(
                "Only the student at the computer running the daemon may do this "
                "(its own browser, or the studylens-edge command)."
            )
        request[CALLER] = caller
        return await handler(request)

    return authorize


async def identify(
    request: web.Request, key: tuple[str, str] | None, store: Store, open_on_localhost: bool
) -> Caller:
    """The caller: the phone whose token came along, or the owner at this computer; else 401."""
    token = bearer(request)
    if token is None and key is not None and key[1] in QUERY_TOKEN_ROUTES:
        query = request.query.get("token")
        token = valid_token(query) if query is not None else None
    if token is None and open_on_localhost and is_local(request):
        return Caller(Role.OWNER)
    device = await store.run(lambda db: authenticate(db, token)) if token else None
    if device is None:
        raise Unauthorized(
            "Pair this device first: POST /api/pair with the code shown on the laptop, "
            "then send its token as Authorization: Bearer."
        )
    return Caller(Role.PHONE, device)
