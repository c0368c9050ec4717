"""Every error leaves in the same JSON envelope as on the edge, with a snake_case code."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.errors import CloudError
from shared.schemas import ErrorBody, FieldProblem, failure

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int, error: ErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A failure envelope with `status`."""
    return JSONResponse(failure(error), status_code=status, headers=headers)


async def _cloud_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudError)  # noqa: S101 - registered for CloudError only
    return error_response(
        exc.http_status,
        ErrorBody(code=exc.code, message=exc.message, details=exc.details),
        exc.headers,
    )


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    details = [
        FieldProblem(
            field=".".join(str(p) for p in err.get("loc", ())) or "(body)",
            problem=str(err.get("msg", "invalid")),
        )
        for err in exc.errors()
    ]
    kinds = {err.get("type") for err in exc.errors()}
    code, message = (
        ("invalid_json", "The request body is not valid JSON.")
        if "json_invalid" in kinds
        else ("invalid_request", "The request is invalid.")
    )
    return error_response(400, ErrorBody(code=code, message=message, details=details))


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ").capitalize()
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, ErrorBody(code=code, message=message), headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", error_id, request.method, request.url.path)
    return error_response(
        500,
        ErrorBody(
            code="internal_error",
            message="Something went wrong on our side; it has been logged.",
            error_id=error_id,
        ),
    )


def install(app: FastAPI) -> None:
    """Register the envelope's exception handlers on `app`."""
    app.add_exception_handler(CloudError, _cloud_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
