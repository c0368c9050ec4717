"""Routes of the frame pipeline: upload-and-analyze, and the stored originals."""

from __future__ import annotations

import re
import time

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from edge.errors import EdgeError, InvalidRequest
from edge.http.context import services
from edge.http.envelope import MODEL_SECONDS, RECEIVE_SECONDS, ok
from edge.http.limits import body_deadline
from edge.sessions.models import SessionId
from shared.analysis import FrameAnalysis
from shared.schemas import Timestamp, WireModel


class UploadAnalyzed(WireModel):
    """The answer to one uploaded frame.

    `s3Key`/`s3Url` repeat `imageKey`/`imageUrl` for the earlier iOS client, which read those.
    """

    session_id: str
    image_key: str
    image_url: str
    analysis: FrameAnalysis
    analysis_id: str | None
    uploaded_at: Timestamp
    reused: bool
    source: str
    s3_key: str
    s3_url: str
    #: How sure the analyser was (0-1), when it says: the on-device one does, the model not.
    confidence: float | None = None


routes = web.RouteTableDef()

FIELD = "image"
CHUNK = 64 * 1024
#: Multipart headers and boundaries around the image; anything past this is not a frame.
ENVELOPE_ALLOWANCE = 64 * 1024
#: Session ids are UUIDs; anything else (other bytes included) is not one of ours.
_SESSION_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class ImageTooLarge(EdgeError):
    """The upload is larger than allowed."""

    http_status = 413
    code = "image_too_large"


class MissingImage(EdgeError):
    """No non-empty `image` field in the form."""

    http_status = 400
    code = "missing_image"


class NotMultipart(EdgeError):
    """The body is not multipart/form-data."""

    http_status = 415
    code = "unsupported_media_type"


async def read_image(request: web.Request, max_bytes: int) -> bytes:
    """Stream the `image` field into memory, refusing past `max_bytes` without reading on."""
    too_large = ImageTooLarge(f"The image is larger than {max_bytes:,} bytes.")
    if (
        request.content_length is not None
        and request.content_length > max_bytes + ENVELOPE_ALLOWANCE
    ):
        raise too_large
    if not request.content_type.startswith("multipart/"):
        raise NotMultipart(
            f"Send the frame as multipart/form-data with a field named {FIELD!r}, "
            f"not {request.content_type or 'no content type'}."
        )
    try:
        async with body_deadline(request):
            return await _read_image_field(request, max_bytes, too_large)
    except (ValueError, AssertionError) as exc:  # aiohttp's multipart parser on bad framing
        raise InvalidRequest("The multipart body is malformed.") from exc
    except LineTooLong as exc:
        raise InvalidRequest("A multipart part header is too long.") from exc
    except HttpProcessingError as exc:  # e.g. too many part headers
        raise InvalidRequest("The multipart part headers are malformed or too many.") from exc


async def _read_image_field(
    request: web.Request, max_bytes: int, too_large: ImageTooLarge
) -> bytes:
    """The `image` field's bytes; the rest of the form is read past and dropped."""
    reader = await request.multipart()
    seen = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidRequest("Nested multipart bodies are not accepted.")
        buffer = bytearray()
        while chunk := await part.read_chunk(CHUNK):
            seen += len(chunk)
            if seen > max_bytes + ENVELOPE_ALLOWANCE or (
                part.name == FIELD and len(buffer) + len(chunk) > max_bytes
            ):
                raise too_large
            if part.name == FIELD:
                buffer += chunk
        if part.name == FIELD:
            if not buffer:
                raise MissingImage(f"The {FIELD!r} field is empty.")
            return bytes(buffer)
    raise MissingImage(f"The form has no field named {FIELD!r}.")


def _session_header(request: web.Request) -> str | None:
    raw = request.headers.get("X-Session-Id", "").strip()
    if not raw:
        return None
    if not _SESSION_ID.fullmatch(raw):
        raise InvalidRequest("X-Session-Id is not a session id.")
    return raw


@routes.post("/api/upload-and-analyze")
async def upload_and_analyze(request: web.Request) -> web.Response:
    """Analyse one frame (multipart field `image`) for `X-Session-Id` or the running session."""
    s = services(request)
    # Paused: refused before a byte of the body is read (the pipeline checks again).
    await s.pause.require_unpaused()
    session_id: SessionId | None = _session_header(request)
    receiving = time.perf_counter()
    data = await read_image(request, s.settings.frames.max_image_bytes)
    request[RECEIVE_SECONDS] = time.perf_counter() - receiving
    result = await s.frames.process(data, session_id)
    request[MODEL_SECONDS] = result.model_seconds
    url = str(request.url.with_path(f"/api/images/{result.image_key}").with_query(None))
    return ok(
        UploadAnalyzed(
            session_id=result.session_id,
            image_key=result.image_key,
            image_url=url,
            analysis=result.analysis,
            analysis_id=result.analysis_id,
            uploaded_at=result.uploaded_at,
            reused=result.reused,
            source=result.source,
            confidence=result.confidence,
            s3_key=result.image_key,
            s3_url=url,
        )
    )


@routes.get("/api/images/{key}")
async def stored_image(request: web.Request) -> web.StreamResponse:
    """Serve an original frame by its content key."""
    path, content_type = services(request).originals.open_path(request.match_info["key"])
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            # Content-addressed: the bytes behind a key never change.
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )
