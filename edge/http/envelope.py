"""The JSON envelope on every response, errors included, and request-body parsing."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ValidationError

from edge.errors import EdgeError, InvalidDate, InvalidJson, InvalidRequest
from edge.http.limits import body_deadline
from shared.schemas import ErrorBody, FieldProblem, WireModel, failure, success

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Request key under which a handler notes how long it waited for the request body.
RECEIVE_SECONDS = web.RequestKey("receive_seconds", float)
#: ... and how long it waited for the vision model.
MODEL_SECONDS = web.RequestKey("model_seconds", float)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNT = re.compile(r"[0-9]{1,9}")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def ok(data: WireModel, status: int = 200) -> web.Response:
    """A success response carrying `data`."""
    return web.json_response(success(data), status=status)


def error_response(
    status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> web.Response:
    """A failure response carrying `body`."""
    return web.json_response(failure(body), status=status, headers=headers)


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        headers["Allow"] = allowed
        message = f"{request.method} is not allowed on {request.path}; use {allowed}."
    elif isinstance(exc, web.HTTPNotFound):
        message = f"There is nothing at {request.method} {request.path}."
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        message = "The request body is larger than this route accepts."
    else:
        message = exc.reason
    code = _CODES.get(exc.status, "http_error" if exc.status < 500 else "internal_error")
    return error_response(exc.status, ErrorBody(code=code, message=message), headers)


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into the JSON envelope; hide unexpected ones behind a logged id."""
    try:
        return await handler(request)
    except EdgeError as exc:
        body = ErrorBody(code=exc.code, message=exc.message, details=exc.details)
        response = error_response(exc.http_status, body, exc.headers)
        if (exc.headers or {}).get("Connection") == "close":
            await _send_and_close(request, response)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(request, exc)
    except HttpProcessingError:
        # aiohttp's parsers on a malformed body (chunking, multipart framing): the client's fault.
        body = ErrorBody(code="bad_request", message="The request body is malformed.")
        response = error_response(400, body)
        response.force_close()
        return response
    except ConnectionResetError:
        # The client went away mid-request (a phone leaving Wi-Fi): nothing to answer, no fault.
        log.info("client left during %s %s", request.method, request.path)
        response = error_response(
            400, ErrorBody(code="client_disconnected", message="The client went away.")
        )
        response.force_close()
        return response
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s in %s %s", error_id, request.method, request.path)
        body = ErrorBody(
            code="internal_error",
            message=f"The daemon hit an unexpected error; it was logged as {error_id}.",
            error_id=error_id,
        )
        return error_response(500, body)


async def _send_and_close(request: web.Request, response: web.Response) -> None:
    """Answer, then hang up at once: the rest of a body that is not coming is not waited for."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.close()  # flushes the answer first


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the client how long the daemon itself spent, in a `Server-Timing` header.

    `recv` is the time spent receiving an upload's body (the network's time, not ours), `app`
    the rest, and `model` the part of `app` spent waiting for the vision model, so the phone can
    tell network, daemon and model apart; the benchmark reads them.
    """
    started = time.perf_counter()
    response = await handler(request)
    if not response.prepared:
        elapsed = time.perf_counter() - started
        waited = request.get(RECEIVE_SECONDS, 0.0)
        parts = [f"app;dur={(elapsed - waited) * 1000:.1f}"]
        if waited:
            parts.insert(0, f"recv;dur={waited * 1000:.1f}")
        if MODEL_SECONDS in request:
            parts.append(f"model;dur={request[MODEL_SECONDS] * 1000:.1f}")
        response.headers["Server-Timing"] = ", ".join(parts)
    return response


def _problems(exc: ValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(field=".".join(str(part) for part in err["loc"]) or "body", problem=err["msg"])
        for err in exc.errors(include_url=False)
    ]


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate the JSON body (within the body timeout); empty counts as `{}`."""
    async with body_deadline(request):
        raw = await request.read()
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        kinds = {err["type"] for err in exc.errors()}
        if "json_invalid" in kinds:
            raise InvalidJson("The request body is not valid JSON.") from exc
        if any(err["type"] == "model_type" and not err["loc"] for err in exc.errors()):
            raise InvalidRequest("The request body must be a JSON object.") from exc
        raise InvalidRequest("The request body is invalid.", details=_problems(exc)) from exc


def query_date(request: web.Request, name: str, default: date) -> date:
    """Read a `YYYY-MM-DD` query parameter, or `default` when absent."""
    raw = request.query.get(name)
    if raw is None:
        return default
    # fromisoformat alone also takes week dates (2026-W48-3) and compact forms.
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidDate(f"{name} must be a date as YYYY-MM-DD, not {raw!r}.") from exc


def query_limit(request: web.Request, default: int, most: int) -> int:
    """Read `?limit=`, a whole number from 1 to `most`, or `default` when absent."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    # ASCII digits only: str.isdigit also takes "²", which int() then refuses.
    if not _COUNT.fullmatch(raw) or not 1 <= int(raw) <= most:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {most}, not {raw!r}.")
    return int(raw)
