"""Sync status for the dashboard, and a nudge to sync now."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from edge.http.context import services
from edge.http.envelope import ok
from edge.sync.status import read_status

routes = web.RouteTableDef()


async def _status(request: web.Request) -> web.Response:
    s = services(request)
    status = await s.store.run(
        partial(read_status, credentials=s.credentials, enabled=s.sync is not None)
    )
    return ok(status)


@routes.get("/api/sync/status")
async def sync_status(request: web.Request) -> web.Response:
    """Pending facts and images, last success, last error, next retry, and the link."""
    return await _status(request)


@routes.post("/api/sync/now")
async def sync_now(request: web.Request) -> web.Response:
    """Wake the sync worker (a running backoff is kept); answer the status as it stands."""
    worker = services(request).sync
    if worker is not None:
        worker.wake()
    return await _status(request)
