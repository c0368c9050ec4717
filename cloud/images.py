"""Originals in the object store: presigned uploads from the edge, presigned reads for the owner.

Keys are content-addressed under the owner's prefix (`users/{user}/images/{sha256}`), so one user
can never name another's objects. S3 in production; a folder of the API's own in the embedded setup,
whose "presigned" URLs are HMAC-signed links to the API itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Image
from cloud.errors import BadRequest, NotFound, StoreUnavailable
from shared.clock import Clock
from shared.files import write_atomic
from shared.sync import MAX_IMAGE_BYTES, ImageRef, PresignedUpload, PresignResult

_T = TypeVar("_T")
#: Most keys one S3 `DeleteObjects` call takes.
S3_DELETE_BATCH = 1000
#: Bytes read from the store per block when an object is streamed.
READ_BLOCK = 1 << 20


#: Every object of the store lives below this prefix.
USERS_PREFIX = "users/"


def user_prefix(user_id: str) -> str:
    """Where every object of `user_id` lives: deleting an account empties it."""
    return f"{USERS_PREFIX}{user_id}/"


def image_key(user_id: str, sha256: str) -> str:
    """Where an image of `user_id` lives in the object store."""
    return f"{user_prefix(user_id)}images/{sha256}"


def checksum_header(sha256_hex: str) -> str:
    """The base64 SHA-256 S3 checks the uploaded bytes against (`x-amz-checksum-sha256`)."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


@dataclass(frozen=True)
class SignedLink:
    """The query of an object-folder URL: when it expires, what it is bound to, its HMAC."""

    expires: int
    extra: str
    signature: str


@dataclass(frozen=True)
class Presigned:
    """A URL to use once, with the headers that must accompany it."""

    url: str
    headers: dict[str, str]


class ObjectStore(Protocol):
    """The object store seam: S3, or a folder in the embedded setup."""

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def presign_put(self, key: str, *, ref: ImageRef, expires_in: int, base_url: str) -> Presigned:
        """A URL the bytes of `ref` can be PUT to."""
        ...

    def presign_get(self, key: str, *, content_type: str, expires_in: int, base_url: str) -> str:
        """A URL the object can be read from."""
        ...

    async def check(self) -> None:
        """Raise `StoreUnavailable` if the store cannot be reached."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`, sorted."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Remove these objects; a key that is not stored is no error."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in blocks; `NotFound` if it is not stored."""
        ...


def _missing(exc: Any) -> bool:
    """Whether a botocore `ClientError` says the object is not there."""
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3ObjectStore:
    """Amazon S3 (or any S3-compatible server) through boto3."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def exists(self, key: str) -> bool:
        """HEAD the object (in a thread: boto3 blocks)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await asyncio.to_thread(self._client.head_object, Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return False
            raise StoreUnavailable("The object store refused a lookup.") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable("The object store cannot be reached.") from exc
        return True

    def presign_put(self, key: str, *, ref: ImageRef, expires_in: int, base_url: str) -> Presigned:
        """A SigV4 presigned PUT; S3 itself refuses bytes whose SHA-256 differs."""
        checksum = checksum_header(ref.sha256)
        url = self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ContentType": ref.content_type,
                "ContentLength": ref.size,
                "ChecksumSHA256": checksum,
            },
            ExpiresIn=expires_in,
        )
        return Presigned(
            url=url,
            headers={"Content-Type": ref.content_type, "x-amz-checksum-sha256": checksum},
        )

    def presign_get(self, key: str, *, content_type: str, expires_in: int, base_url: str) -> str:
        """A SigV4 presigned GET."""
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key, "ResponseContentType": content_type},
            ExpiresIn=expires_in,
        )
        return url

    async def check(self) -> None:
        """List one key under `users/`: reachable, and the instance role may list our prefix.

        Not HeadBucket: that carries no prefix, so the role would need listing on the whole
        bucket (deploy/aws grants it under `users/*` only).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await asyncio.to_thread(
                self._client.list_objects_v2, Bucket=self._bucket, Prefix=USERS_PREFIX, MaxKeys=1
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"The bucket {self._bucket!r} cannot be reached.") from exc

    async def keys(self, prefix: str) -> list[str]:
        """List the prefix page by page (in a thread)."""

        def listing() -> list[str]:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

        return await self._call(listing, "list")

    async def delete(self, keys: list[str]) -> None:
        """`DeleteObjects` in batches of S3's maximum; any per-key error is ours to report."""
        for start in range(0, len(keys), S3_DELETE_BATCH):
            objects = [{"Key": key} for key in keys[start : start + S3_DELETE_BATCH]]
            answer: dict[str, Any] = await self._call(
                partial(
                    self._client.delete_objects,
                    Bucket=self._bucket,
                    Delete={"Objects": objects, "Quiet": True},
                ),
                "delete",
            )
            if answer.get("Errors"):
                raise StoreUnavailable("The object store refused to delete some objects.")

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """`GetObject`, its body read block by block in a thread."""
        from botocore.exceptions import ClientError

        try:
            answer = await self._call(
                partial(self._client.get_object, Bucket=self._bucket, Key=key), "read"
            )
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _missing(cause):
                raise NotFound("This object is not stored.") from cause
            raise
        body = answer["Body"]
        try:
            while block := await asyncio.to_thread(body.read, READ_BLOCK):
                yield block
        finally:
            body.close()

    async def _call(self, work: Callable[[], _T], what: str) -> _T:
        """Run one blocking boto3 call in a thread; its errors become `StoreUnavailable`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(work)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"The object store failed a {what}.") from exc


class FolderObjectStore:
    """Objects as files; URLs point at the API's `/api/objects/` route, signed with HMAC."""

    def __init__(self, root: Path, secret: bytes) -> None:
        self._root = root
        self._secret = secret

    def path(self, key: str) -> Path:
        """The file of `key` (keys are made by `image_key`, never taken from a client)."""
        return self._root / key

    async def exists(self, key: str) -> bool:
        """Whether the file is there (a `stat` on a disk that may be slow: in a thread)."""
        return await asyncio.to_thread(self.path(key).is_file)

    def sign(self, method: str, key: str, expires: int, extra: str) -> str:
        """The signature of one URL."""
        message = f"{method}\n{key}\n{expires}\n{extra}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, method: str, key: str, expires: int, extra: str, signature: str) -> None:
        """Raise `NotFound` for a forged or expired URL (no hint which)."""
        good = hmac.compare_digest(self.sign(method, key, expires, extra), signature)
        if not good or expires < time.time():
            raise NotFound("This link is invalid or has expired.")

    def _url(self, base_url: str, method: str, key: str, expires_in: int, extra: str) -> str:
        expires = int(time.time()) + expires_in
        query = urlencode(
            {"expires": expires, "extra": extra, "sig": self.sign(method, key, expires, extra)}
        )
        return f"{base_url.rstrip('/')}/api/objects/{quote(key)}?{query}"

    def presign_put(self, key: str, *, ref: ImageRef, expires_in: int, base_url: str) -> Presigned:
        """A signed link to `PUT /api/objects/{key}` bound to the image's type, size and hash."""
        extra = f"{ref.content_type};{ref.size};{ref.sha256}"
        return Presigned(
            url=self._url(base_url, "PUT", key, expires_in, extra),
            headers={"Content-Type": ref.content_type},
        )

    def presign_get(self, key: str, *, content_type: str, expires_in: int, base_url: str) -> str:
        """A signed link to `GET /api/objects/{key}`."""
        return self._url(base_url, "GET", key, expires_in, content_type)

    async def put(
        self,
        key: str,
        link: SignedLink,
        content_type: str | None,
        body: AsyncIterable[bytes],
    ) -> None:
        """Store an upload made through a `presign_put` link, checked as S3 checks one.

        The link must be genuine and unexpired, the type as presigned, the bytes of the
        presigned size and SHA-256; the body is read only up to that size. Hashing and the
        durable write run in a thread: both take milliseconds per megabyte.
        """
        self.verify("PUT", key, link.expires, link.extra, link.signature)
        want_type, size_text, sha256 = link.extra.split(";")
        size = int(size_text)
        if content_type != want_type:
            raise BadRequest(f"Send `Content-Type: {want_type}` as presigned.")
        data = bytearray()
        async for chunk in body:
            data.extend(chunk)
            if len(data) > min(size, MAX_IMAGE_BYTES):
                raise BadRequest("The upload is larger than presigned.")
        await asyncio.to_thread(self._write_checked, key, bytes(data), size, sha256)

    def _write_checked(self, key: str, data: bytes, size: int, sha256: str) -> None:
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise BadRequest("The uploaded bytes do not match the presigned size and SHA-256.")
        self.write(key, data)

    async def open(self, key: str, link: SignedLink) -> Path:
        """The file behind a `presign_get` link; `NotFound` for a bad link or a missing object."""
        self.verify("GET", key, link.expires, link.extra, link.signature)
        path = self.path(key)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound("This object is not stored.")
        return path

    def write(self, key: str, data: bytes) -> None:
        """Store `data` atomically and durably (blocking: call it from a thread)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data, durable=True)

    async def check(self) -> None:
        """The folder must be writable."""
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable("The object folder cannot be created.") from exc

    async def keys(self, prefix: str) -> list[str]:
        """Files under the folder whose key starts with `prefix` (keys use `/` as S3's do)."""

        def listing() -> list[str]:
            if not self._root.is_dir():
                return []
            found = (p.relative_to(self._root).as_posix() for p in self._root.rglob("*"))
            return sorted(
                key for key in found if key.startswith(prefix) and self.path(key).is_file()
            )

        return await asyncio.to_thread(listing)

    async def delete(self, keys: list[str]) -> None:
        """Unlink each file (in a thread)."""

        def remove() -> None:
            for key in keys:
                self.path(key).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The file in blocks, each read in a thread."""
        try:
            handle = await asyncio.to_thread(self.path(key).open, "rb")
        except FileNotFoundError as exc:
            raise NotFound("This object is not stored.") from exc
        try:
            while block := await asyncio.to_thread(handle.read, READ_BLOCK):
                yield block
        finally:
            handle.close()


class Images:
    """Presigning and ownership of originals."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        clock: Clock,
        ttl_seconds: int,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._clock = clock
        self._ttl = ttl_seconds

    async def presign(self, user_id: str, refs: list[ImageRef], base_url: str) -> PresignResult:
        """Upload URLs for the images not stored yet; the stored ones are listed as such."""
        now = self._clock.now()
        wanted = {ref.sha256: ref for ref in refs}
        async with self._sessions() as db:
            known = set(
                (
                    await db.scalars(
                        select(Image.sha256).where(
                            Image.user_id == user_id, Image.sha256.in_(list(wanted))
                        )
                    )
                ).all()
            )
        stored = sorted(known)
        missing = [ref for sha, ref in wanted.items() if sha not in known]
        found = await asyncio.gather(
            *(self._store.exists(image_key(user_id, ref.sha256)) for ref in missing)
        )
        confirmed = [ref for ref, there in zip(missing, found, strict=True) if there]
        if confirmed:
            await self._record(user_id, confirmed, now)
            stored = sorted([*stored, *(ref.sha256 for ref in confirmed)])
        uploads = []
        expires_at = now + timedelta(seconds=self._ttl)
        for ref, there in zip(missing, found, strict=True):
            if there:
                continue
            signed = self._store.presign_put(
                image_key(user_id, ref.sha256), ref=ref, expires_in=self._ttl, base_url=base_url
            )
            uploads.append(
                PresignedUpload(
                    sha256=ref.sha256, url=signed.url, headers=signed.headers, expires_at=expires_at
                )
            )
        return PresignResult(uploads=uploads, stored=stored)

    async def _record(self, user_id: str, refs: list[ImageRef], now: datetime) -> None:
        async with self._sessions.begin() as db:
            have = set(
                (
                    await db.scalars(
                        select(Image.sha256).where(
                            Image.user_id == user_id, Image.sha256.in_([r.sha256 for r in refs])
                        )
                    )
                ).all()
            )
            for ref in refs:
                if ref.sha256 not in have:
                    db.add(
                        Image(
                            user_id=user_id,
                            sha256=ref.sha256,
                            content_type=ref.content_type,
                            size=ref.size,
                            stored_at=now,
                        )
                    )

    async def read_url(self, user_id: str, sha256: str, base_url: str) -> str:
        """A presigned GET of the owner's image; `NotFound` for anyone else's or a missing one."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise BadRequest("An image is named by the lowercase hex SHA-256 of its bytes.")
        async with self._sessions() as db:
            image = await db.get(Image, (user_id, sha256))
        if image is None:
            raise NotFound("No image of yours has this hash.")
        return self._store.presign_get(
            image_key(user_id, sha256),
            content_type=image.content_type,
            expires_in=self._ttl,
            base_url=base_url,
        )
