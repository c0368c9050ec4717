"""The admin surface (the same operations as `studylens-cloud admin`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from cloud.admin import Purged, UserRow
from cloud.api.context import AdminCaller, Svc
from cloud.api.device_routes import device_info
from cloud.schemas import (
    LinkedDevices,
    Ok,
    Revoked,
    RoleChange,
    Stats,
    UserInfo,
    UserList,
    failures,
)

router = APIRouter(prefix="/api/admin", tags=["admin"])
ERRORS = failures(401, 403, 404)
Who = Annotated[str, Path(min_length=1, max_length=320, description="User id or email.")]


def user_info(row: UserRow) -> UserInfo:
    """The wire form of a user row."""
    return UserInfo(
        user_id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        last_sign_in_at=row.last_sign_in_at,
        devices=row.devices,
    )


@router.get("/users", responses=ERRORS)
async def users(_: AdminCaller, svc: Svc) -> Ok[UserList]:
    """Every user."""
    return Ok(data=UserList(users=[user_info(u) for u in await svc.admin.users()]))


@router.get("/devices", responses=ERRORS)
async def devices(_: AdminCaller, svc: Svc) -> Ok[LinkedDevices]:
    """Every linked device."""
    return Ok(data=LinkedDevices(devices=[device_info(d) for d in await svc.devices.list(None)]))


@router.post("/users/{who}/role", responses=ERRORS)
async def set_role(who: Who, body: RoleChange, _: AdminCaller, svc: Svc) -> Ok[UserInfo]:
    """Give a user a role."""
    return Ok(data=user_info(await svc.admin.set_role(who, body.role)))


@router.post("/users/{who}/revoke-tokens", responses=ERRORS)
async def revoke_tokens(who: Who, _: AdminCaller, svc: Svc) -> Ok[Revoked]:
    """Sign a user out everywhere."""
    count = await svc.admin.revoke_tokens(who)
    return Ok(data=Revoked(revoked=True, count=count))


@router.get("/stats", responses=ERRORS)
async def stats(_: AdminCaller, svc: Svc) -> Ok[Stats]:
    """Counts across the service."""
    return Ok(data=Stats(counts=await svc.admin.stats()))


@router.post("/purge", responses=ERRORS)
async def purge(_: AdminCaller, svc: Svc) -> Ok[Stats]:
    """Delete expired blacklist entries, tokens and device codes."""
    done: Purged = await svc.admin.purge()
    return Ok(data=Stats(counts=vars(done)))
