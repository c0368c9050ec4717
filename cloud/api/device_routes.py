"""Linking edges to an account (device code flow) and managing the linked devices."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.api.context import Student, Svc
from cloud.devices import LinkedDevice, PendingLink
from cloud.schemas import DeviceInfo, LinkedDevices, Ok, PendingDevice, Revoked, failures
from shared.auth import DeviceApproval, DeviceCode, DeviceCodeRequest, DeviceTokenRequest, TokenPair

router = APIRouter(prefix="/api/devices", tags=["devices"])
page = APIRouter(include_in_schema=False)
PAGE = (Path(__file__).parent / "pages" / "device.html").read_text()
ERRORS = failures(400, 401, 403)
CODE_ERRORS = ERRORS | failures(404, 429)


def device_info(device: LinkedDevice) -> DeviceInfo:
    """The wire form of a linked device."""
    return DeviceInfo(
        device_id=device.id,
        user_id=device.user_id,
        name=device.name,
        created_at=device.created_at,
        last_seen_at=device.last_seen_at,
        revoked_at=device.revoked_at,
    )


def pending_device(link: PendingLink) -> PendingDevice:
    """The wire form of a pending link."""
    return PendingDevice(
        user_code=link.user_code,
        device_name=link.name,
        requested_at=link.requested_at,
        expires_at=link.expires_at,
        approved=link.approved,
    )


@router.post("/code", responses=ERRORS | failures(429, 503))
async def start_link(
    request: Request, svc: Svc, body: DeviceCodeRequest | None = None
) -> Ok[DeviceCode]:
    """Start linking an edge: a device code to poll with and a user code to show.

    No sign-in needed, so limited per client address (429) and in all (503).
    """
    name = body.name if body else DeviceCodeRequest().name
    # The peer address; uvicorn puts the client's there when the proxy is trusted.
    address = request.client.host if request.client else "unknown"
    code = await svc.devices.start(name, f"{svc.base_url(request)}/device", address)
    return Ok(data=code)


@router.post("/lookup", responses=CODE_ERRORS)
async def lookup(body: DeviceApproval, caller: Student, svc: Svc) -> Ok[PendingDevice]:
    """What a user code would link (name, when it asked), to confirm before approving.

    Wrong codes count toward the same lock-out as approvals.
    """
    return Ok(data=pending_device(await svc.devices.lookup(caller, body.user_code)))


@router.post("/approve", responses=CODE_ERRORS)
async def approve(body: DeviceApproval, caller: Student, svc: Svc) -> Ok[PendingDevice]:
    """The signed-in student approves the code the edge shows.

    After `device_approve_max_failures` wrong codes: 429 with `Retry-After`, doubling each time.
    """
    return Ok(data=pending_device(await svc.devices.approve(caller, body.user_code)))


@router.post("/token", responses=ERRORS)
async def poll_token(body: DeviceTokenRequest, svc: Svc) -> Ok[TokenPair]:
    """The edge polls: `authorization_pending`, `slow_down`, `expired_token`, or its tokens."""
    return Ok(data=await svc.devices.poll(body.device_code))


@router.get("", responses=ERRORS)
async def list_devices(caller: Student, svc: Svc) -> Ok[LinkedDevices]:
    """The caller's linked devices, newest first."""
    devices = await svc.devices.list(caller.user_id)
    return Ok(data=LinkedDevices(devices=[device_info(d) for d in devices]))


@router.delete("/{device_id}", responses=ERRORS | failures(404))
async def revoke_device(device_id: str, caller: Student, svc: Svc) -> Ok[Revoked]:
    """Unlink a device; its tokens stop working at once."""
    await svc.devices.revoke(device_id, owner=caller.user_id)
    return Ok(data=Revoked(revoked=True))


@page.get("/device", response_class=HTMLResponse)
async def device_page(svc: Svc) -> HTMLResponse:
    """Where a student types the code an edge shows (the verification URI of RFC 8628)."""
    ids = svc.settings.google_client_ids
    client_id = json.dumps(ids[0] if ids else None).replace("<", "\\u003c")
    return HTMLResponse(
        PAGE.replace("__CLIENT_ID__", client_id),
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )
