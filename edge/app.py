"""The app factory: the one place where the edge daemon's parts are wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from edge.http import analytics, health, moments, sessions
from edge.http.context import SERVICES, Services
from edge.http.envelope import envelope_middleware
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings
from edge.store import Store
from edge.tasks import Supervisor, every
from shared.clock import Clock, SystemClock

log = logging.getLogger(__name__)


def create_app(settings: EdgeSettings, clock: Clock | None = None) -> web.Application:
    """Build the daemon's aiohttp application; the store opens when the app starts."""
    clock = clock or SystemClock()
    zone = settings.zone
    store = Store(settings.database_path)
    session_service = SessionService(
        store, clock, zone, idle_after=timedelta(minutes=settings.session_idle_minutes)
    )
    supervisor = Supervisor()
    app = web.Application(
        middlewares=[envelope_middleware], client_max_size=settings.max_json_body_bytes
    )
    app[SERVICES] = Services(
        settings=settings,
        clock=clock,
        zone=zone,
        store=store,
        sessions=session_service,
        supervisor=supervisor,
        started_at=clock.now(),
    )
    for table in (health.routes, sessions.routes, analytics.routes, moments.routes):
        app.router.add_routes(table)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        await session_service.load()
        supervisor.start(
            "idle-sessions", lambda: every(settings.idle_check_seconds, session_service.end_idle)
        )
        log.info("store open at %s", settings.database_path)
        try:
            yield
        finally:
            await supervisor.stop()
            await store.close()

    app.cleanup_ctx.append(lifecycle)
    return app
