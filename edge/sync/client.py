"""The cloud API as the sync worker sees it: batches, presigned uploads, token refresh, linking.

Takes an `httpx.AsyncClient`, so tests hand it a `MockTransport` or a real loopback server.
Transport failures and answers are mapped to one small hierarchy here, at the boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from edge.sync.credentials import Credentials, CredentialStore
from edge.sync.errors import (
    CloudBatchTooLarge,
    CloudRefused,
    CloudUnavailable,
    CloudUnlinked,
    LinkExpired,
)
from shared.auth import DeviceCode, TokenPair
from shared.clock import Clock
from shared.sync import ImageRef, PresignedUpload, PresignResult, SyncBatchResult

#: Refresh the access token when it has less than this left (it lives 15 minutes).
REFRESH_MARGIN_SECONDS = 60.0


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
        return str(body["error"]["code"]), str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return "http_error", response.text[:200]


def _data(response: httpx.Response) -> Any:
    if response.status_code >= 500:
        raise CloudUnavailable(f"the cloud answered {response.status_code}")
    if response.status_code == 413:
        raise CloudBatchTooLarge(_error(response)[1])
    if response.status_code >= 400:
        code, message = _error(response)
        raise CloudRefused(response.status_code, code, message)
    try:
        return response.json()["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CloudUnavailable("the cloud answered something that is not our envelope") from exc


def credentials_from(pair: TokenPair, cloud_url: str, linked_at: datetime) -> Credentials:
    """Credentials to save from a token pair."""
    if pair.device_id is None:
        raise CloudRefused(200, "not_a_device_token", "the cloud gave no device id")
    return Credentials(
        cloud_url=cloud_url.rstrip("/"),
        user_id=pair.user_id,
        device_id=pair.device_id,
        access_token=pair.access_token,
        access_expires_at=pair.expires_at,
        refresh_token=pair.refresh_token,
        refresh_expires_at=pair.refresh_expires_at,
        linked_at=linked_at,
    )


class CloudClient:
    """Authenticated calls for one linked device."""

    def __init__(self, http: httpx.AsyncClient, store: CredentialStore, clock: Clock) -> None:
        self._http = http
        self._store = store
        self._clock = clock
        self._refreshing = asyncio.Lock()

    async def credentials(self) -> Credentials:
        """The saved credentials; `CloudUnlinked` when there are none or they are unreadable."""
        found = await self._store.read()
        if found is None:
            raise CloudUnlinked("this edge is not linked to a cloud account")
        return found

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise CloudUnavailable(f"the cloud cannot be reached: {exc!r}") from exc

    async def refresh(self, stale: Credentials) -> Credentials:
        """Rotate the refresh token and save the new pair before using it.

        If the answer is lost, the next call sends the same (old) token again, and within the
        cloud's grace period gets the same successor back: a crash here does not unlink us.
        """
        async with self._refreshing:
            current = await self.credentials()
            if current.refresh_token != stale.refresh_token:
                return current  # another caller refreshed while we waited
            response = await self._send(
                "POST",
                f"{current.cloud_url}/api/auth/refresh",
                json={"refreshToken": current.refresh_token},
            )
            if response.status_code in (400, 401):
                code, message = _error(response)
                raise CloudUnlinked(f"the cloud refused our refresh token ({code}): {message}")
            pair = TokenPair.model_validate(_data(response))
            fresh = credentials_from(pair, current.cloud_url, current.linked_at)
            await self._store.write(fresh)
            return fresh

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        credentials = await self.credentials()
        if not credentials.access_fresh(self._clock.now(), REFRESH_MARGIN_SECONDS):
            credentials = await self.refresh(credentials)
        for attempt in range(2):
            response = await self._send(
                method,
                f"{credentials.cloud_url}{path}",
                headers={"Authorization": f"Bearer {credentials.access_token}"},
                **kw,
            )
            if response.status_code == 401 and attempt == 0:
                credentials = await self.refresh(credentials)
                continue
            if response.status_code in (401, 403):
                code, message = _error(response)
                raise CloudUnlinked(f"the cloud refused this device ({code}): {message}")
            return _data(response)
        raise AssertionError("unreachable")

    async def send_batch(self, items: list[dict[str, Any]]) -> SyncBatchResult:
        """Post one batch; per-item results in order."""
        data = await self._call("POST", "/api/sync/batch", json={"items": items})
        try:
            return SyncBatchResult.model_validate(data)
        except ValidationError as exc:
            raise CloudUnavailable("the cloud's batch answer is malformed") from exc

    async def presign(self, refs: list[ImageRef]) -> PresignResult:
        """Upload URLs for the images the cloud does not hold yet."""
        body = {"items": [r.model_dump(mode="json", by_alias=True) for r in refs]}
        data = await self._call("POST", "/api/sync/images/presign", json=body)
        try:
            return PresignResult.model_validate(data)
        except ValidationError as exc:
            raise CloudUnavailable("the cloud's presign answer is malformed") from exc

    async def logout(self) -> None:
        """Ask the cloud to revoke this device's tokens (the refresh token's whole family).

        Sent with the tokens as saved, not refreshed first: rotating them only to revoke them
        is a wasted round trip. If the cloud refuses the access token (expired meanwhile), the
        refresh token alone still names the family: sent again without the header.
        """
        credentials = await self.credentials()
        url = f"{credentials.cloud_url}/api/auth/logout"
        body = {"refreshToken": credentials.refresh_token}
        bearer = {"Authorization": f"Bearer {credentials.access_token}"}
        response = await self._send("POST", url, json=body, headers=bearer)
        if response.status_code == 401:
            response = await self._send("POST", url, json=body)
        _data(response)

    async def upload(self, target: PresignedUpload, data: bytes) -> None:
        """PUT the bytes to a presigned URL (S3 or the cloud's own folder), no credentials."""
        response = await self._send("PUT", target.url, content=data, headers=target.headers)
        if response.status_code >= 500:
            raise CloudUnavailable(f"the image upload failed with {response.status_code}")
        if response.status_code >= 400:
            raise CloudRefused(response.status_code, "upload_refused", response.text[:200])


async def link_device(
    http: httpx.AsyncClient,
    cloud_url: str,
    name: str,
    store: CredentialStore,
    clock: Clock,
    show: Callable[[DeviceCode], None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Credentials:
    """Run the device code flow (RFC 8628): show the code, poll at the interval, save tokens."""
    base = cloud_url.rstrip("/")
    try:
        started = await http.post(f"{base}/api/devices/code", json={"name": name})
    except httpx.TransportError as exc:
        raise CloudUnavailable(f"the cloud at {base} cannot be reached: {exc!r}") from exc
    code = DeviceCode.model_validate(_data(started))
    show(code)
    interval = float(code.interval)
    while True:
        await sleep(interval)
        try:
            polled = await http.post(
                f"{base}/api/devices/token", json={"deviceCode": code.device_code}
            )
        except httpx.TransportError:
            continue  # keep polling through a blip; the code's expiry ends the loop
        if polled.status_code == 400:
            error, message = _error(polled)
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5  # RFC 8628, 3.5
                continue
            if error == "expired_token":
                raise LinkExpired(message)
        pair = TokenPair.model_validate(_data(polled))
        credentials = credentials_from(pair, base, clock.now())
        await store.write(credentials)
        return credentials
