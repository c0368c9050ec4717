"""Who may call which route: the roles, and one decision per route.

The **owner** is the student at this computer: its own browser (under `open_on_localhost`) and
the CLI, which works on the data dir directly. A **phone** is a paired device: it streams,
uploads, bookmarks and reads the student's stats, but cannot let others in, see or revoke other
devices, or sync. A route missing from `ROUTE_ACCESS` makes the app factory fail, so every new
route needs a decision before it can be served.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from edge.errors import EdgeError


class Role(enum.Enum):
    """Who a caller is."""

    OWNER = "owner"
    PHONE = "phone"


class Access(enum.Enum):
    """Who a route admits."""

    #: Anyone on the network (still subject to the Host and Origin rules).
    OPEN = "open"
    #: A paired phone or the owner.
    PHONE = "phone"
    #: The owner only; a phone gets 403.
    OWNER = "owner"


@dataclass(frozen=True)
class Caller:
    """The caller of a request that passed the access rules."""

    role: Role
    #: The paired device's id; None for the owner.
    device_id: str | None = None


CALLER = web.RequestKey("caller", Caller)

#: One decision per (method, route pattern); HEAD follows GET.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): Access.OPEN,
    ("POST", "/api/pair"): Access.OPEN,
    ("GET", "/"): Access.OPEN,
    ("GET", "/static"): Access.OPEN,  # the dashboard's code and styles, nothing private
    # What a phone does: stream, upload, mark moments, read the student's stats.
    ("GET", "/ws"): Access.PHONE,
    ("POST", "/api/upload-and-analyze"): Access.PHONE,
    ("GET", "/api/images/{key}"): Access.PHONE,
    ("POST", "/api/session/start"): Access.PHONE,
    ("POST", "/api/session/{session_id}/end"): Access.PHONE,
    ("GET", "/api/session/{session_id}/topic-stats"): Access.PHONE,
    ("GET", "/api/session/{session_id}/bookmarks"): Access.PHONE,
    ("GET", "/api/today/topic-stats"): Access.PHONE,
    ("GET", "/api/topic/daily"): Access.PHONE,
    ("GET", "/api/topic/weekly"): Access.PHONE,
    ("POST", "/api/bookmark"): Access.PHONE,
    ("POST", "/api/help-count"): Access.PHONE,
    ("GET", "/api/help-count"): Access.PHONE,
    ("GET", "/api/dashboard/today"): Access.PHONE,
    ("GET", "/api/frames/recent"): Access.PHONE,
    ("GET", "/api/sessions"): Access.PHONE,
    ("GET", "/api/events"): Access.PHONE,
    ("GET", "/api/devices/me"): Access.PHONE,
    # The student's privacy switch, from the glasses' phone as from this computer.
    ("POST", "/api/privacy/pause"): Access.PHONE,
    ("POST", "/api/privacy/resume"): Access.PHONE,
    # The owner's: who gets in, who is thrown out, what leaves the computer, how it runs.
    ("POST", "/api/pair/code"): Access.OWNER,
    ("GET", "/api/devices"): Access.OWNER,
    ("DELETE", "/api/devices/{device_id}"): Access.OWNER,
    ("GET", "/api/sync/status"): Access.OWNER,
    ("POST", "/api/sync/now"): Access.OWNER,
    ("GET", "/metrics"): Access.OWNER,
    # What the edge keeps about the student, a copy of all of it: the owner's alone.
    ("GET", "/api/privacy/summary"): Access.OWNER,
    ("GET", "/api/privacy/export"): Access.OWNER,
    ("POST", "/api/privacy/forget/preview"): Access.OWNER,
    ("POST", "/api/privacy/forget"): Access.OWNER,
    # The student's own account of their week (goals, recall), read at this computer.
    ("GET", "/api/report/weekly"): Access.OWNER,
    # Study memory: the student reviews at this computer (dashboard, CLI); by voice, the
    # tutor's tools call the edge's review service itself, so no phone needs these routes.
    ("POST", "/api/session/{session_id}/cards"): Access.OWNER,
    ("GET", "/api/review/due"): Access.OWNER,
    ("POST", "/api/review/{card_id}/grade"): Access.OWNER,
    ("GET", "/api/cards"): Access.OWNER,
    ("DELETE", "/api/cards/{card_id}"): Access.OWNER,
}

#: Routes where a browser cannot set headers, so the token may come as `?token=`.
QUERY_TOKEN_ROUTES = frozenset({"/ws", "/api/events"})


class UndecidedRoute(EdgeError):
    """A route was registered without an access decision (a programming error: 500)."""


def route_key(request: web.Request) -> tuple[str, str] | None:
    """The (method, pattern) the request was routed to; None when no route matched."""
    route = request.match_info.route
    resource = route.resource
    if request.match_info.http_exception is not None or resource is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return method, resource.canonical


def access_of(key: tuple[str, str] | None) -> Access:
    """The decision for a route; an unmatched path needs a phone's token, like a private route.

    Answering 404 only to callers who may call something keeps the route list from strangers.
    """
    if key is None:
        return Access.PHONE
    # Fail closed for a route added after the start-up check.
    return ROUTE_ACCESS.get(key, Access.OWNER)


def undecided(routes: Iterable[web.AbstractRoute]) -> list[str]:
    """Registered routes that have no decision in `ROUTE_ACCESS`."""
    missing = []
    for route in routes:
        resource = route.resource
        if resource is None:
            continue
        if route.method == "HEAD":
            continue  # answered like its GET
        if (route.method, resource.canonical) not in ROUTE_ACCESS:
            missing.append(f"{route.method} {resource.canonical}")
    return missing


def check_decisions(app: web.Application) -> None:
    """Fail at start when a route has no access decision."""
    if missing := undecided(app.router.routes()):
        raise UndecidedRoute(f"routes without an access decision: {', '.join(missing)}")
