"""`GET /metrics`: Prometheus text for a scraper holding the metrics token, or for an admin."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cloud.api.context import Svc, bearer
from cloud.errors import AccessDenied, InsufficientScope, Unauthenticated
from cloud.metrics import CONTENT_TYPE
from cloud.schemas import failures

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses=failures(401, 403) | {200: {"content": {CONTENT_TYPE: {}}}},
)
async def metrics(request: Request, svc: Svc) -> Response:
    """Requests by route and status, sync ingest; the sum over every worker process."""
    token = bearer(request)
    if token is None:
        raise Unauthenticated("Send the metrics token (or an admin's) as a bearer token.")
    expected = svc.settings.metrics_token
    scraper = expected is not None and hmac.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    )
    if not scraper:
        found = await svc.auth.authenticate(token)
        if found.scope != "user":
            raise InsufficientScope("A device's sync token is for syncing only.")
        if not found.is_admin:
            raise AccessDenied("Metrics are for the metrics token or an administrator.")
    return Response(svc.metrics.exposition(), media_type=CONTENT_TYPE)
