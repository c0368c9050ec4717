"""Liveness."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from edge import __version__
from edge.http.context import services
from edge.http.envelope import ok
from edge.privacy.pause import PauseState
from edge.tasks import TaskHealth
from shared.schemas import Timestamp, WireModel


class Health(WireModel):
    """Liveness of the daemon."""

    status: Literal["ok"]
    version: str
    started_at: Timestamp
    uptime_seconds: int
    active_sessions: int
    tasks: dict[str, TaskHealth]
    #: Whether capture is paused, and until when (`endsAt` null: until resumed).
    pause: PauseState


routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Whether the daemon is up, its version, its background tasks, and whether it is paused."""
    s = services(request)
    pause = await s.pause.state()
    return ok(
        Health(
            status="ok",
            version=__version__,
            started_at=s.started_at,
            uptime_seconds=round((s.clock.now() - s.started_at).total_seconds()),
            active_sessions=s.sessions.active_count,
            tasks=s.supervisor.health(),
            pause=pause,
        )
    )
