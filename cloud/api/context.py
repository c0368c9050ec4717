"""The services one app instance wires together, and the FastAPI dependencies that reach them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cloud.api.observe import CALLER_STATE
from cloud.auth import Principal
from cloud.errors import AccessDenied, InsufficientScope, Unauthenticated
from cloud.services import CloudServices
from shared.logs import caller, hash_id

ACCESS_COOKIE = "studylens_access"
REFRESH_COOKIE = "studylens_refresh"


def services(request: Request) -> CloudServices:
    """The app's services."""
    found: CloudServices = request.app.state.services
    return found


Svc = Annotated[CloudServices, Depends(services)]


def bearer(request: Request) -> str | None:
    """The access token: `Authorization: Bearer`, else the access cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Send the access token as `Authorization: Bearer <token>`.")
        return token.strip()
    return request.cookies.get(ACCESS_COOKIE)


async def optional_principal(request: Request, svc: Svc) -> Principal | None:
    """The caller if it sent a valid token, None if it sent none; invalid tokens are refused."""
    token = bearer(request)
    if token is None:
        return None
    found = await svc.auth.authenticate(token)
    # For this request's log lines: who, as a pseudonym (never the id itself, never the token).
    setattr(request.state, CALLER_STATE, hash_id(found.user_id))
    caller.set(getattr(request.state, CALLER_STATE))
    return found


async def principal(
    found: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; 401 without a valid token."""
    if found is None:
        raise Unauthenticated()
    return found


async def user_principal(found: Annotated[Principal, Depends(principal)]) -> Principal:
    """A signed-in student: an edge's sync token is for syncing only."""
    if found.scope != "user":
        raise InsufficientScope(
            "A device's sync token is for syncing only; sign in as the student."
        )
    return found


async def sync_principal(found: Annotated[Principal, Depends(principal)]) -> Principal:
    """A linked edge's sync token."""
    if found.scope != "sync" or found.device_id is None:
        raise AccessDenied("Only a linked device's sync token can send sync data.")
    return found


async def admin_principal(found: Annotated[Principal, Depends(user_principal)]) -> Principal:
    """An admin signed in as a user."""
    if not found.is_admin:
        raise AccessDenied("This needs an administrator.")
    return found


MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]
Student = Annotated[Principal, Depends(user_principal)]
Edge = Annotated[Principal, Depends(sync_principal)]
AdminCaller = Annotated[Principal, Depends(admin_principal)]
