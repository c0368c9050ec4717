"""Routes of topic analytics by day and week."""

from __future__ import annotations

from aiohttp import web

from edge import analytics
from edge.http.context import services
from edge.http.envelope import ok, query_date
from shared.clock import local_date

routes = web.RouteTableDef()


@routes.get("/api/today/topic-stats")
async def today_topic_stats(request: web.Request) -> web.Response:
    """Today's topic totals, the running session included."""
    s = services(request)
    now = s.clock.now()
    return ok(await s.store.run(lambda db: analytics.today_stats(db, now, s.zone)))


@routes.get("/api/topic/daily")
async def daily_topic_stats(request: web.Request) -> web.Response:
    """Topic totals of `?date=YYYY-MM-DD` (default today)."""
    s = services(request)
    now = s.clock.now()
    day = query_date(request, "date", local_date(now, s.zone))
    return ok(await s.store.run(lambda db: analytics.day_stats(db, day, now, s.zone)))


@routes.get("/api/topic/weekly")
async def weekly_topic_stats(request: web.Request) -> web.Response:
    """The last seven days with a per-day breakdown."""
    s = services(request)
    now = s.clock.now()
    return ok(await s.store.run(lambda db: analytics.week_stats(db, now, s.zone)))
