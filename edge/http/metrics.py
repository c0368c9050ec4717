"""Prometheus metrics."""

from __future__ import annotations

from aiohttp import web

from edge.http.context import services

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Counters and histograms in the Prometheus text format."""
    body = services(request).metrics.exposition()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")
