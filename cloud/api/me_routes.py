"""The signed-in student's own account: delete it (`DELETE /api/me`), export it (`/api/me/export`).

`GET /api/me` itself lives with sign-in in `auth_routes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field

from cloud.api.auth_routes import clear_cookies
from cloud.api.context import ACCESS_COOKIE, Student, Svc
from cloud.auth import Principal
from cloud.errors import CrossSiteCookie
from cloud.schemas import Ok, failures
from shared.schemas import WireModel

router = APIRouter(prefix="/api", tags=["account"])
#: `Sec-Fetch-Site` values of the cloud's own pages and of addresses typed into the browser.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


class AccountDeleted(WireModel):
    """What `DELETE /api/me` removed."""

    user_id: str
    rows: dict[str, int] = Field(description="rows deleted per table")
    objects: int = Field(description="objects deleted from the object store")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").rstrip("."), parts.port or default


def from_own_pages(request: Request, base_url: str) -> bool:
    """Whether a browser request comes from the cloud's own pages (or carries no origin).

    SameSite=Lax keeps the cookie off other sites' requests, and a cross-origin DELETE needs a
    preflight we never answer; this checks `Origin` and `Sec-Fetch-Site` besides, because a
    sibling subdomain is the "same site" to the cookie and an old browser may skip the rules.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in OWN_FETCH_SITES:
        return False
    origin = request.headers.get("origin")
    return origin is None or _origin(origin.strip()) == _origin(base_url)


async def own_pages_only(request: Request, caller: Student, svc: Svc) -> Principal:
    """A student's change: by bearer token from anywhere, by cookie only from our own pages."""
    by_cookie = "authorization" not in request.headers and ACCESS_COOKIE in request.cookies
    if by_cookie and not from_own_pages(request, svc.base_url(request)):
        raise CrossSiteCookie("This change cannot be made from another site's page.")
    return caller


StudentHere = Annotated[Principal, Depends(own_pages_only)]
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "The archive"}
}


@router.delete("/me", responses=failures(401, 403, 503))
async def delete_me(caller: StudentHere, response: Response, svc: Svc) -> Ok[AccountDeleted]:
    """Delete the account: every row and image of it, every token of it and of its edges.

    503 `deletion_incomplete` if the object store failed: the account is kept (its edges are
    unlinked already) and the same request finishes the job. Afterwards every token is 401;
    signing in with Google again makes a new, empty account.
    """
    deleted = await svc.accounts.delete(caller.user_id)
    clear_cookies(response, svc)
    return Ok(
        data=AccountDeleted(user_id=deleted.user_id, rows=deleted.rows, objects=deleted.objects)
    )


@router.get(
    "/me/export",
    response_class=StreamingResponse,
    responses=ZIP | failures(401, 403),
)
async def export_me(caller: Student, svc: Svc) -> StreamingResponse:
    """Download everything the cloud holds of the account as one zip, streamed as it is made.

    The layout of the edge's `studylens-edge export`: manifest.json, README.md,
    data/<kind>.jsonl and originals/ab/cd/<sha256>.<ext>.
    """
    pieces = svc.exports.stream(caller.user_id)
    # The first piece comes after the account and the first rows were read: a failure that
    # early still gets its status and the error envelope, not a cut-off download.
    first = await anext(pieces)

    async def body() -> AsyncIterator[bytes]:
        async with aclosing(pieces):
            yield first
            async for piece in pieces:
                yield piece

    day = svc.clock.now().date().isoformat()
    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="studylens-export-{day}.zip"',
            "Cache-Control": "no-store",
        },
    )
