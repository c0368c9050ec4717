"""`POST /api/pair`: a pairing code in, a device token out."""

from __future__ import annotations

import logging
import math
from typing import Annotated

from aiohttp import web
from pydantic import Field

from edge.errors import PairingLocked
from edge.http.context import services
from edge.http.envelope import ok, read_json
from edge.pairing import GUESS_BUDGET, PairingFailed, daemon_id, redeem
from shared.schemas import RequestModel, WireModel

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class PairRequest(RequestModel):
    """Body of `POST /api/pair`."""

    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    device_name: Annotated[str, Field(min_length=1, max_length=80)]


class PairedDevice(WireModel):
    """The new device's credentials; the token is shown this once."""

    device_id: str
    token: str
    daemon_id: str
    tls_fingerprint: str | None = None


@routes.post("/api/pair")
async def pair(request: web.Request) -> web.Response:
    """Exchange the code shown on the laptop for a device token (rate-limited)."""
    s = services(request)
    client = request.remote or "unknown"
    # The daemon's clock (tests move it), as seconds; the lock-out only compares them.
    wait = s.lockout.retry_after(client, s.clock.now().timestamp())
    if wait > 0:
        raise PairingLocked(
            f"Too many wrong codes; try again in {math.ceil(wait)} s.",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    # Counted as a failure before the first await, so parallel guesses cannot all slip in
    # under the limit; a right code clears it again.
    s.lockout.failed(client, s.clock.now().timestamp())
    body = await read_json(request, PairRequest)
    now = s.clock.now()
    try:
        paired = await s.store.run(lambda db: redeem(db, body.code, body.device_name, now))
    except PairingFailed as exc:
        if exc.withdrew_code:
            log.warning(
                "pairing code withdrawn after %d wrong guesses; make a new one", GUESS_BUDGET
            )
            s.events.publish("pairing", {"state": "withdrawn"})
        raise
    s.lockout.succeeded(client)
    s.events.publish("pairing", {"state": "paired", "deviceId": paired.device_id})
    identity = await s.store.run(daemon_id)
    return ok(
        PairedDevice(
            device_id=paired.device_id,
            token=paired.token,
            daemon_id=identity,
            tls_fingerprint=s.certificate.fingerprint if s.certificate else None,
        ),
        status=201,
    )
