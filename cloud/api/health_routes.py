"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud import __version__
from cloud.api.context import Svc
from cloud.api.envelope import error_response
from cloud.errors import StoreUnavailable
from cloud.schemas import Ok, ServiceHealth, failures
from shared.schemas import ErrorBody

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Ok[ServiceHealth]:
    """The process answers."""
    return Ok(data=ServiceHealth(status="ok", version=__version__))


@router.get("/readyz", responses=failures(503), response_model=Ok[ServiceHealth])
async def readyz(svc: Svc) -> Ok[ServiceHealth] | JSONResponse:
    """The database and the object store are reachable, and the process is not draining.

    From the first SIGTERM on it answers 503 `draining`, so a load balancer stops sending
    requests here while those in flight finish (`shutdown_drain_seconds`).
    """
    if svc.draining.active:
        message = (
            "This process is shutting down; requests in flight finish, send new ones elsewhere."
        )
        return error_response(503, ErrorBody(code="draining", message=message))
    try:
        async with svc.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        message = f"The database is unreachable: {type(exc).__name__}."
        return error_response(503, ErrorBody(code="database_unavailable", message=message))
    try:
        await svc.objects.check()
    except StoreUnavailable as exc:
        return error_response(503, ErrorBody(code=exc.code, message=exc.message))
    return Ok(
        data=ServiceHealth(
            status="ok", version=__version__, checks={"database": "ok", "objects": "ok"}
        )
    )
