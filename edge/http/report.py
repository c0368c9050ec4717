"""The weekly report over HTTP: the owner's, like the rest of what the edge keeps about them."""

from __future__ import annotations

from aiohttp import web

from edge.http.context import services
from edge.http.envelope import ok
from edge.report.reads import read_weekly_report
from edge.report.weekly import week_asked
from shared.clock import local_date

routes = web.RouteTableDef()


@routes.get("/api/report/weekly")
async def weekly_report(request: web.Request) -> web.Response:
    """The report of `?week=YYYY-Www` (default this week), with the streak as of today."""
    s = services(request)
    now = s.clock.now()
    week = week_asked(request.query.get("week"), local_date(now, s.zone))
    goal = s.settings.goal.minutes_per_day
    return ok(await s.store.run(lambda db: read_weekly_report(db, week, now, s.zone, goal)))
