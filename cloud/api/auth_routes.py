"""Sign-in with Google, token refresh, logout and the signed-in account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from cloud.api.context import ACCESS_COOKIE, REFRESH_COOKIE, MaybeCaller, Student, Svc
from cloud.db.models import User
from cloud.errors import InvalidGrant, NotFound
from cloud.schemas import GoogleSignIn, Me, Ok, SignedOut, failures
from shared.auth import RefreshRequest, TokenPair

router = APIRouter(prefix="/api/auth", tags=["auth"])
ERRORS = failures(400, 401, 503)
#: The refresh cookie goes only to the auth routes, never to the rest of the API.
REFRESH_PATH = "/api/auth"


def set_cookies(response: Response, pair: TokenPair, svc: Svc) -> None:
    """HTTP-only, SameSite=Lax cookies for browsers; native clients use the body."""
    secure = svc.settings.cookie_secure
    response.set_cookie(
        ACCESS_COOKIE,
        pair.access_token,
        max_age=pair.expires_in,
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    now = svc.clock.now()
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=max(0, int((pair.refresh_expires_at - now).total_seconds())),
        path=REFRESH_PATH,
        httponly=True,
        secure=secure,
        samesite="lax",
    )


def clear_cookies(response: Response, svc: Svc) -> None:
    """Remove both cookies."""
    secure = svc.settings.cookie_secure
    response.delete_cookie(ACCESS_COOKIE, httponly=True, secure=secure, samesite="lax")
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, secure=secure, samesite="lax"
    )


@router.post("/google", responses=ERRORS)
async def sign_in_with_google(body: GoogleSignIn, response: Response, svc: Svc) -> Ok[TokenPair]:
    """Exchange a Google ID token for an access token (15 min) and a refresh token."""
    identity = await svc.google.verify(body.id_token, now=svc.clock.now())
    pair = await svc.auth.sign_in(identity)
    set_cookies(response, pair, svc)
    return Ok(data=pair)


@router.post("/refresh", responses=ERRORS)
async def refresh(
    request: Request, response: Response, svc: Svc, body: RefreshRequest | None = None
) -> Ok[TokenPair]:
    """Rotate a refresh token (body, else cookie): the old one dies, a new pair is issued.

    Reusing a rotated token revokes its whole family (401 `invalid_grant`), except a retry within
    the grace period, which gets the same successor again.
    """
    raw = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    if not raw:
        raise InvalidGrant("Send the refresh token in the body or its cookie.")
    pair = await svc.auth.refresh(raw)
    set_cookies(response, pair, svc)
    return Ok(data=pair)


@router.post("/logout", responses=ERRORS)
async def logout(
    request: Request,
    response: Response,
    svc: Svc,
    caller: MaybeCaller,
    body: RefreshRequest | None = None,
) -> Ok[SignedOut]:
    """Revoke the refresh token and refuse the access token from now on."""
    raw = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    done = await svc.auth.logout(caller, raw)
    clear_cookies(response, svc)
    return Ok(data=SignedOut(signed_out=done))


me_router = APIRouter(prefix="/api", tags=["auth"])


@me_router.get("/me", responses=ERRORS | failures(403))
async def me(caller: Student, svc: Svc) -> Ok[Me]:
    """The account behind the access token."""
    async with svc.auth.sessions() as db:
        user = await db.get(User, caller.user_id)
    if user is None:
        raise NotFound("This account no longer exists.")
    return Ok(
        data=Me(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            scope=caller.scope,
            device_id=caller.device_id,
        )
    )
