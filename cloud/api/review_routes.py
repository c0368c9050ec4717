"""Review of cards across all of the caller's edges: the week's grades by local day and topic."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.api.analytics_routes import EARLIEST, ERRORS, LATEST, Zone, today, zone_of
from cloud.api.context import Student, Svc
from cloud.schemas import Ok, WeeklyRecall

router = APIRouter(prefix="/api/review", tags=["review"])


@router.get("/weekly", responses=ERRORS)
async def weekly(
    caller: Student,
    svc: Svc,
    day: Annotated[date | None, Query(alias="date", ge=EARLIEST, le=LATEST)] = None,
    tz: Zone = None,
) -> Ok[WeeklyRecall]:
    """Cards graded on the seven days ending with `date` (default today), all edges together.

    Each grade counts on its local day in `tz` (default UTC): per day, per topic of its card, and
    in total, with the share recalled (`hard`, `good` or `easy`); also the cards made in the week
    and the cards held.
    """
    zone = zone_of(tz)
    return Ok(data=await svc.review.weekly(caller.user_id, day or today(svc, tz), zone))
