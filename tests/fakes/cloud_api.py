"""A scriptable stand-in for the cloud API, for `httpx.MockTransport`: the sync worker's tests.

It answers the routes the worker calls with the real wire shapes (shared models), keeps what it
stored, and can be told to fail in the ways a network and a cloud fail. It means what the real
cloud means: a PUT only puts bytes into the bucket, checked as S3 checks a presigned upload
(type, size and `x-amz-checksum-sha256`); the cloud counts an image as stored only when a later
presign finds it there and lists it under `stored`; a fact id another account holds is
rejected as `id_conflict`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx

from shared.auth import TokenPair
from shared.clock import Clock
from shared.schemas import ErrorBody, failure, success
from shared.sync import ItemResult, PresignedUpload, PresignResult, SyncBatchResult

BASE = "https://cloud.test"


def error(status: int, code: str, message: str = "refused") -> httpx.Response:
    """A failure envelope."""
    return httpx.Response(status, json=failure(ErrorBody(code=code, message=message)))


class FakeCloud:
    """Holds the facts and images it was sent; `fail_next` scripts failures."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.facts: dict[str, dict[str, Any]] = {}
        #: Images the cloud recorded as stored: confirmed by a presign that found them.
        self.images: dict[str, bytes] = {}
        #: The bucket: what PUTs left there, by SHA-256, confirmed or not.
        self.objects: dict[str, bytes] = {}
        #: Uploads S3 refused, by SHA-256, with the reason.
        self.refused_uploads: list[tuple[str, str]] = []
        #: The next this many PUTs are answered 200 but their bytes never land (lost by the way).
        self.lose_uploads = 0
        self._presigned: dict[str, dict[str, Any]] = {}
        self.batches: list[int] = []
        #: The items of each batch it answered, as sent.
        self.received: list[list[dict[str, Any]]] = []
        self.refreshes = 0
        self.access = "access-1"
        self.refresh_token = "refresh-1"  # noqa: S105 - a fake token of a fake cloud
        self.max_items: int | None = None
        self.reject_ids: set[str] = set()
        #: Fact ids another account already holds: answered `id_conflict`.
        self.foreign_ids: set[str] = set()
        #: Each entry answers (or raises for) one request instead of the normal handler.
        self.fail_next: list[Callable[[httpx.Request], httpx.Response]] = []
        self.upload_headers: list[dict[str, str]] = []
        #: Each entry runs while one batch is handled: after its items are stored, before the
        #: answer leaves (what the edge does while its batch is in flight).
        self.during_batch: list[Callable[[], Awaitable[None]]] = []

    def transport(self) -> httpx.MockTransport:
        """The transport to build the worker's client with."""
        return httpx.MockTransport(self.handle)

    def pair(self, expires_in: float = 900) -> TokenPair:
        """The current tokens as the cloud would hand them out."""
        now = self.clock.now()
        return TokenPair(
            access_token=self.access,
            expires_in=int(expires_in),
            expires_at=now + timedelta(seconds=expires_in),
            refresh_token=self.refresh_token,
            refresh_expires_at=now + timedelta(days=30),
            scope="sync",
            user_id="user-1",
            device_id="device-1",
        )

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Route one request."""
        if self.fail_next:
            return self.fail_next.pop(0)(request)
        path = request.url.path
        if request.method == "PUT" and path.startswith("/upload/"):
            return self._put(path.rsplit("/", 1)[1], request)
        if path == "/api/auth/refresh":
            return self._refresh(request)
        if request.headers.get("authorization") != f"Bearer {self.access}":
            return error(401, "invalid_token")
        if path == "/api/sync/batch":
            answer = self._batch(request)
            if self.during_batch:
                await self.during_batch.pop(0)()
            return answer
        if path == "/api/sync/images/presign":
            return self._presign(request)
        return error(404, "not_found")

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["refreshToken"] != self.refresh_token:
            return error(401, "invalid_grant")
        self.refreshes += 1
        self.access = f"access-{secrets.token_hex(4)}"
        self.refresh_token = f"refresh-{secrets.token_hex(4)}"
        return httpx.Response(200, json=success(self.pair()))

    def _batch(self, request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        if self.max_items is not None and len(items) > self.max_items:
            return error(413, "batch_too_large")
        self.batches.append(len(items))
        self.received.append(items)
        results = []
        for index, item in enumerate(items):
            if item["id"] in self.reject_ids | self.foreign_ids:
                body = (
                    ErrorBody(code="id_conflict", message="Another account holds this id.")
                    if item["id"] in self.foreign_ids
                    else ErrorBody(code="invalid_item", message="no")
                )
                results.append(
                    ItemResult(index=index, id=item["id"], status="rejected", error=body)
                )
                continue
            held = self.facts.get(item["id"])
            if held is not None and held["revision"] >= item["revision"]:
                results.append(ItemResult(index=index, id=item["id"], status="unchanged"))
                continue
            self.facts[item["id"]] = item
            results.append(ItemResult(index=index, id=item["id"], status="stored"))
        answer = SyncBatchResult(
            stored=sum(r.status == "stored" for r in results),
            unchanged=sum(r.status == "unchanged" for r in results),
            rejected=sum(r.status == "rejected" for r in results),
            results=results,
        )
        return httpx.Response(200, json=success(answer))

    def _presign(self, request: httpx.Request) -> httpx.Response:
        refs = json.loads(request.content)["items"]
        expires = self.clock.now() + timedelta(minutes=15)
        uploads, stored = [], []
        for ref in refs:
            sha = ref["sha256"]
            if sha not in self.images and sha in self.objects:
                self.images[sha] = self.objects[sha]  # found in the bucket: now it counts
            if sha in self.images:
                stored.append(sha)
                continue
            self._presigned[sha] = ref
            checksum = base64.b64encode(bytes.fromhex(sha)).decode()
            uploads.append(
                PresignedUpload(
                    sha256=sha,
                    url=f"{BASE}/upload/{sha}",
                    headers={"Content-Type": ref["contentType"], "x-amz-checksum-sha256": checksum},
                    expires_at=expires,
                )
            )
        return httpx.Response(200, json=success(PresignResult(uploads=uploads, stored=stored)))

    def _put(self, sha: str, request: httpx.Request) -> httpx.Response:
        """A PUT to a presigned URL, judged as S3 judges one."""
        self.upload_headers.append(dict(request.headers))
        ref = self._presigned.get(sha)
        body = request.content
        checksum = request.headers.get("x-amz-checksum-sha256")
        if ref is None:
            reason = "AccessDenied"  # no URL was presigned for this key
        elif (
            request.headers.get("content-type") != ref["contentType"]
            or len(body) != ref["size"]
            or checksum != base64.b64encode(bytes.fromhex(sha)).decode()
        ):
            reason = "SignatureDoesNotMatch"  # these three are signed into the URL
        elif checksum != base64.b64encode(hashlib.sha256(body).digest()).decode():
            reason = "BadDigest"
        else:
            if self.lose_uploads:
                self.lose_uploads -= 1
            else:
                self.objects[sha] = body
            return httpx.Response(200)
        self.refused_uploads.append((sha, reason))
        status = 400 if reason == "BadDigest" else 403
        return httpx.Response(status, text=f"<Error><Code>{reason}</Code></Error>")


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A scripted failure that raises `exc` (a timeout, a refused connection)."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    return fail


def answering(response: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    """A scripted failure that answers `response`."""
    return lambda request: response
