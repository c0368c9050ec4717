"""Study time across all of the caller's edges."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from cloud.api.context import Student, Svc
from cloud.errors import BadRequest
from cloud.schemas import Ok, SessionsInRange, failures
from shared.schemas import DayTopicStats, WeeklyTopicStats

router = APIRouter(prefix="/api", tags=["analytics"])
ERRORS = failures(400, 401, 403)
#: Dates outside this span are refused up front (the week before 0001-01-01 does not exist).
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
Zone = Annotated[
    str | None,
    Query(max_length=64, description="IANA zone that decides which day is today; default UTC."),
]


def zone_of(zone: str | None) -> ZoneInfo:
    """The IANA zone named `zone` (UTC when none); 400 for a name it does not know."""
    try:
        return ZoneInfo(zone or "UTC")
    # OSError: a folder of the zone database (`Europe`) is opened as a file and fails so.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise BadRequest(f"Unknown time zone {zone!r}.") from exc


def today(svc: Svc, zone: str | None) -> date:
    """Today's date in `zone`."""
    return svc.clock.now().astimezone(zone_of(zone)).date()


@router.get("/topic/daily", responses=ERRORS)
async def daily(
    caller: Student,
    svc: Svc,
    day: Annotated[date | None, Query(alias="date", ge=EARLIEST, le=LATEST)] = None,
    tz: Zone = None,
) -> Ok[DayTopicStats]:
    """Time per topic on one local day (the edges' local dates), all devices together."""
    return Ok(data=await svc.analytics.daily(caller.user_id, day or today(svc, tz)))


@router.get("/topic/weekly", responses=ERRORS)
async def weekly(
    caller: Student,
    svc: Svc,
    day: Annotated[date | None, Query(alias="date", ge=EARLIEST, le=LATEST)] = None,
    tz: Zone = None,
) -> Ok[WeeklyTopicStats]:
    """The seven days ending with `date` (default today), per day and in total."""
    return Ok(data=await svc.analytics.weekly(caller.user_id, day or today(svc, tz)))


@router.get("/sessions", responses=ERRORS)
async def sessions(
    caller: Student,
    svc: Svc,
    first: Annotated[date | None, Query(alias="from", ge=EARLIEST, le=LATEST)] = None,
    last: Annotated[date | None, Query(alias="to", ge=EARLIEST, le=LATEST)] = None,
    tz: Zone = None,
) -> Ok[SessionsInRange]:
    """Sessions whose local day is within `from`..`to` (default: the last seven days)."""
    last = last or today(svc, tz)
    first = first or last - timedelta(days=6)
    found = await svc.analytics.sessions(caller.user_id, first, last)
    return Ok(data=SessionsInRange(from_date=first, to_date=last, sessions=found))
