"""Sync ingest from linked edges, and their images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from cloud.api.context import Edge, Student, Svc
from cloud.errors import BatchTooLarge, NotFound
from cloud.images import SignedLink
from cloud.schemas import Ok, failures
from shared.schemas import success
from shared.sync import (
    MAX_BATCH_ITEMS,
    PresignRequest,
    PresignResult,
    SyncBatch,
    SyncBatchResult,
)

router = APIRouter(tags=["sync"])
ERRORS = failures(400, 401, 403, 413)


@router.post("/api/sync/batch", responses=ERRORS, response_model=Ok[SyncBatchResult])
async def sync_batch(body: SyncBatch, caller: Edge, svc: Svc) -> JSONResponse:
    """Upsert up to 500 facts by id; one result per item (`stored`, `unchanged`, `rejected`).

    The user and device come from the sync token. Replaying a batch changes nothing.
    """
    if len(body.items) > MAX_BATCH_ITEMS:
        raise BatchTooLarge(
            f"A batch holds at most {MAX_BATCH_ITEMS} items; this one has {len(body.items)}."
        )
    assert caller.device_id is not None  # noqa: S101 - sync_principal guarantees it
    with svc.metrics.ingest_seconds.time():
        result = await svc.ingest.batch(caller.user_id, caller.device_id, body.items)
    svc.metrics.ingest_batch_items.observe(len(body.items))
    for status, count in (
        ("stored", result.stored),
        ("unchanged", result.unchanged),
        ("rejected", result.rejected),
    ):
        svc.metrics.ingest_items.labels(status).inc(count)
    # Serialised directly: FastAPI would validate the 500 results a second time on the way out.
    return JSONResponse(success(result))


@router.post("/api/sync/images/presign", responses=ERRORS)
async def presign_images(
    body: PresignRequest, request: Request, caller: Edge, svc: Svc
) -> Ok[PresignResult]:
    """Presigned PUT URLs for the images not stored yet; already stored ones are listed.

    After uploading, ask again: an image listed under `stored` is confirmed.
    """
    result = await svc.images.presign(caller.user_id, body.items, svc.base_url(request))
    return Ok(data=result)


@router.get(
    "/api/images/{sha256}",
    status_code=307,
    response_class=RedirectResponse,
    responses=ERRORS | {307: {"description": "Redirect to a short-lived URL of the image"}},
)
async def image(sha256: str, request: Request, caller: Student, svc: Svc) -> RedirectResponse:
    """Redirect the owner to a presigned GET of one of their images."""
    url = await svc.images.read_url(caller.user_id, sha256, svc.base_url(request))
    return RedirectResponse(url, status_code=307)


# --- the embedded object folder's "presigned" URLs ------------------------------------------

objects = APIRouter(include_in_schema=False)


@objects.put("/api/objects/{key:path}")
async def put_object(
    key: str,
    request: Request,
    svc: Svc,
    expires: Annotated[int, Query()],
    extra: Annotated[str, Query(max_length=200)],
    sig: Annotated[str, Query(max_length=128)],
) -> Response:
    """Store an upload made through a URL from `presign` (embedded setup only)."""
    if svc.folder is None:
        raise NotFound("No object folder here.")
    await svc.folder.put(
        key, SignedLink(expires, extra, sig), request.headers.get("content-type"), request.stream()
    )
    return Response(status_code=200)


@objects.get("/api/objects/{key:path}")
async def get_object(
    key: str,
    svc: Svc,
    expires: Annotated[int, Query()],
    extra: Annotated[str, Query(max_length=200)],
    sig: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    """Serve an object through a URL from `read_url` (embedded setup only)."""
    if svc.folder is None:
        raise NotFound("No object folder here.")
    path = await svc.folder.open(key, SignedLink(expires, extra, sig))
    return FileResponse(path, media_type=extra)
