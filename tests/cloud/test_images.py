"""Images: presigned uploads from the edge, presigned reads for their owner only.

Run against the embedded object folder and against S3 (moto's server on loopback).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud import images as images_module
from cloud.errors import NotFound, StoreUnavailable
from cloud.images import (
    FolderObjectStore,
    ObjectStore,
    S3ObjectStore,
    image_key,
    user_prefix,
)
from cloud.services import s3_client
from cloud.settings import CloudSettings
from tests.cloud.support import bearer, data_of, error_of, link_device, sign_in
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg

#: PostgreSQL only: the core modules (auth, ingest, analytics) also run on SQLite.
pytestmark = pytest.mark.postgresql_only


def ref(data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
    """The presign item (hash, content type and size) for these bytes."""
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "contentType": content_type,
        "size": len(data),
    }


async def presign(
    cloud: httpx.AsyncClient, headers: dict[str, str], *refs: dict[str, Any]
) -> httpx.Response:
    """Ask for presigned uploads for the given image items."""
    return await cloud.post("/api/sync/images/presign", json={"items": list(refs)}, headers=headers)


@pytest.fixture(params=["folder", "s3"])
async def store_cloud(request: pytest.FixtureRequest, start_cloud: Any) -> httpx.AsyncClient:
    """The cloud with its embedded object folder, then with S3."""
    if request.param == "folder":
        client: httpx.AsyncClient = await start_cloud()
    else:
        client = await start_cloud(**request.getfixturevalue("s3_settings"))
    return client


async def upload(cloud: httpx.AsyncClient, target: dict[str, Any], data: bytes) -> httpx.Response:
    """PUT to a presigned URL: the app itself (folder) or the S3 server."""
    if target["url"].startswith("http://testserver/"):
        return await cloud.put(target["url"], content=data, headers=target["headers"])
    async with httpx.AsyncClient() as outside:
        return await outside.put(target["url"], content=data, headers=target["headers"])


async def fetch(cloud: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET a presigned read URL: from the app itself (folder) or from the S3 server."""
    if url.startswith("http://testserver/"):
        return await cloud.get(url)
    async with httpx.AsyncClient() as outside:
        return await outside.get(url)


async def edge_of(cloud: httpx.AsyncClient, google: FakeGoogle, who: str) -> dict[str, Any]:
    """Sign in `who` and link an edge; return the user pair, edge headers and user headers."""
    user = await sign_in(cloud, google, f"sub-{who}", f"{who}@example.com")
    device = await link_device(cloud, user)
    return {"user": user, "edge": bearer(device["accessToken"]), "me": bearer(user["accessToken"])}


async def test_upload_and_read_back(store_cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """An uploaded image is then reported as stored, and its owner reads it back by redirect."""
    ada = await edge_of(store_cloud, google, "ada")
    data = jpeg(64, 48)
    first = data_of(await presign(store_cloud, ada["edge"], ref(data)))
    assert first["stored"] == []
    assert len(first["uploads"]) == 1
    target = first["uploads"][0]
    assert f"users/{ada['user']['userId']}/images/" in target["url"]
    assert (await upload(store_cloud, target, data)).status_code == 200
    second = data_of(await presign(store_cloud, ada["edge"], ref(data)))
    assert second == {"uploads": [], "stored": [hashlib.sha256(data).hexdigest()]}
    redirect = await store_cloud.get(f"/api/images/{target['sha256']}", headers=ada["me"])
    assert redirect.status_code == 307
    image = await fetch(store_cloud, redirect.headers["location"])
    assert image.status_code == 200
    assert image.content == data
    assert image.headers["content-type"] == "image/jpeg"


async def test_another_user_cannot_read_an_image(
    store_cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Another user asking for an image by its hash gets a 404."""
    ada = await edge_of(store_cloud, google, "ada")
    eve = await edge_of(store_cloud, google, "eve")
    data = jpeg(32, 32)
    target = data_of(await presign(store_cloud, ada["edge"], ref(data)))["uploads"][0]
    await upload(store_cloud, target, data)
    data_of(await presign(store_cloud, ada["edge"], ref(data)))
    response = await store_cloud.get(f"/api/images/{target['sha256']}", headers=eve["me"])
    assert error_of(response, 404)["code"] == "not_found"


async def test_presign_for_another_users_image_uploads_under_ones_own_prefix(
    store_cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Knowing another user's image hash only gets an upload under one's own prefix."""
    ada = await edge_of(store_cloud, google, "ada")
    eve = await edge_of(store_cloud, google, "eve")
    data = jpeg(40, 40)
    target = data_of(await presign(store_cloud, ada["edge"], ref(data)))["uploads"][0]
    await upload(store_cloud, target, data)
    data_of(await presign(store_cloud, ada["edge"], ref(data)))
    # Eve knowing the hash does not make Ada's copy hers: she is asked to upload her own.
    eves = data_of(await presign(store_cloud, eve["edge"], ref(data)))
    assert eves["stored"] == []
    assert f"users/{eve['user']['userId']}/images/" in eves["uploads"][0]["url"]


async def test_unconfirmed_image_is_not_found(
    store_cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """An image that was never confirmed as uploaded is a 404."""
    ada = await edge_of(store_cloud, google, "ada")
    response = await store_cloud.get("/api/images/" + "ab" * 32, headers=ada["me"])
    assert error_of(response, 404)["code"] == "not_found"


async def test_image_name_must_be_a_sha256(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """An image name that is not a SHA-256 hash is a 400."""
    ada = await edge_of(cloud, google, "ada")
    response = await cloud.get("/api/images/not-a-hash", headers=ada["me"])
    assert error_of(response, 400)["code"] == "invalid_request"


@pytest.mark.parametrize(
    "item",
    [
        {"sha256": "XYZ", "contentType": "image/jpeg", "size": 10},
        {"sha256": "ab" * 32, "contentType": "text/html", "size": 10},
        {"sha256": "ab" * 32, "contentType": "image/jpeg", "size": 0},
        {"sha256": "ab" * 32, "contentType": "image/jpeg", "size": 10 * 1024 * 1024 + 1},
    ],
)
async def test_bad_presign_items_are_400s(
    cloud: httpx.AsyncClient, google: FakeGoogle, item: dict[str, Any]
) -> None:
    """A bad hash, a non-image type, or an empty or over 10 MiB size is a 400."""
    ada = await edge_of(cloud, google, "ada")
    assert error_of(await presign(cloud, ada["edge"], item), 400)["code"] == "invalid_request"


async def test_too_many_presign_items_is_a_400(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Presigning more than 100 items at once is a 400."""
    ada = await edge_of(cloud, google, "ada")
    items = [ref(bytes([i % 256, i // 256])) for i in range(101)]
    error_of(await presign(cloud, ada["edge"], *items), 400)


async def test_presign_needs_a_sync_token(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A user token cannot presign uploads: that takes a device's sync token."""
    ada = await edge_of(cloud, google, "ada")
    error_of(await presign(cloud, ada["me"], ref(b"x")), 403)


async def test_folder_upload_must_match_the_presigned_hash(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A folder upload whose bytes do not match the presigned hash is refused, not stored."""
    ada = await edge_of(cloud, google, "ada")
    data = jpeg(16, 16)
    target = data_of(await presign(cloud, ada["edge"], ref(data)))["uploads"][0]
    forged = bytearray(data)
    forged[-3] ^= 0xFF
    response = await cloud.put(target["url"], content=bytes(forged), headers=target["headers"])
    assert error_of(response, 400)["code"] == "invalid_request"
    assert data_of(await presign(cloud, ada["edge"], ref(data)))["stored"] == []


async def test_folder_upload_with_a_forged_signature_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A folder upload URL altered to another user's prefix is refused with a 404."""
    ada = await edge_of(cloud, google, "ada")
    data = jpeg(16, 16)
    target = data_of(await presign(cloud, ada["edge"], ref(data)))["uploads"][0]
    forged_url = target["url"].replace(f"users/{ada['user']['userId']}", "users/someone-else")
    response = await cloud.put(forged_url, content=data, headers=target["headers"])
    assert error_of(response, 404)["code"] == "not_found"


# --- the ObjectStore seam itself: listing, deleting and reading keys -------------------------


@pytest.fixture(params=["folder", "s3"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The folder store, then S3 (a fresh bucket on the loopback server)."""
    if request.param == "folder":
        return FolderObjectStore(tmp_path / "objects", b"k" * 32)
    overrides = request.getfixturevalue("s3_settings")
    return S3ObjectStore(s3_client(CloudSettings(**overrides)), overrides["s3_bucket"])


async def put(store: ObjectStore, key: str, data: bytes) -> None:
    """Store an object directly (the presigned upload is tested above)."""
    if isinstance(store, FolderObjectStore):
        await asyncio.to_thread(store.write, key, data)
    else:
        assert isinstance(store, S3ObjectStore)
        await asyncio.to_thread(store._client.put_object, Bucket=store._bucket, Key=key, Body=data)


async def read_all(store: ObjectStore, key: str) -> list[bytes]:
    """The blocks `read` yields for one key."""
    return [block async for block in store.read(key)]


async def test_keys_lists_one_prefix_sorted(object_store: ObjectStore) -> None:
    """`keys` answers every key under the prefix, sorted, and nothing of a prefix it starts."""
    mine = [image_key("u1", sha) for sha in ("bb" * 32, "aa" * 32)]
    for key in [*mine, image_key("u10", "cc" * 32), image_key("u2", "dd" * 32)]:
        await put(object_store, key, b"x")
    assert await object_store.keys(user_prefix("u1")) == sorted(mine)


async def test_keys_of_an_empty_prefix_is_empty(object_store: ObjectStore) -> None:
    """A prefix nothing was stored under lists as empty, even in a store never written to."""
    assert await object_store.keys(user_prefix("nobody")) == []


async def test_delete_removes_only_the_named_keys(object_store: ObjectStore) -> None:
    """Deleted keys are gone; the others under the same prefix stay."""
    keys = [image_key("u1", f"{i:064x}") for i in range(3)]
    for key in keys:
        await put(object_store, key, b"x")
    await object_store.delete(keys[:2])
    assert await object_store.keys(user_prefix("u1")) == keys[2:]


async def test_delete_of_a_missing_key_is_no_error(object_store: ObjectStore) -> None:
    """Deleting what is not stored succeeds (a retried deletion repeats keys)."""
    await object_store.delete([image_key("u1", "ee" * 32)])
    assert await object_store.keys(user_prefix("u1")) == []


async def test_s3_delete_goes_in_batches(
    s3_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More keys than one `DeleteObjects` takes are deleted in several calls, every one."""
    store = S3ObjectStore(s3_client(CloudSettings(**s3_settings)), s3_settings["s3_bucket"])
    monkeypatch.setattr(images_module, "S3_DELETE_BATCH", 2)
    keys = [image_key("u1", f"{i:064x}") for i in range(5)]
    for key in keys:
        await put(store, key, b"x")
    await store.delete(keys)
    assert await store.keys(user_prefix("u1")) == []


async def test_read_streams_the_bytes_in_blocks(
    object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`read` yields the object block by block, never more than a block at a time."""
    monkeypatch.setattr(images_module, "READ_BLOCK", 1000)
    data = bytes(range(256)) * 10
    await put(object_store, image_key("u1", "ab" * 32), data)
    blocks = await read_all(object_store, image_key("u1", "ab" * 32))
    assert b"".join(blocks) == data
    assert [len(block) for block in blocks] == [1000, 1000, 560]


async def test_read_of_a_missing_key_is_not_found(object_store: ObjectStore) -> None:
    """Reading a key that is not stored raises `NotFound`, not a store failure."""
    with pytest.raises(NotFound):
        await read_all(object_store, image_key("u1", "ab" * 32))


@pytest.mark.parametrize("operation", ["keys", "delete", "read"])
async def test_s3_failures_are_store_unavailable(
    s3_settings: dict[str, Any], operation: str
) -> None:
    """A bucket that does not exist makes each operation raise `StoreUnavailable`."""
    store = S3ObjectStore(s3_client(CloudSettings(**s3_settings)), "studylens-no-such-bucket")
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "keys": lambda: store.keys(user_prefix("u1")),
        "delete": lambda: store.delete([image_key("u1", "ab" * 32)]),
        "read": lambda: read_all(store, image_key("u1", "ab" * 32)),
    }
    with pytest.raises(StoreUnavailable):
        await calls[operation]()
