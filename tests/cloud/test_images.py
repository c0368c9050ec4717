"""Images: presigned uploads from the edge, presigned reads for their owner only.

Run against the embedded object folder and against S3 (moto's server on loopback).
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

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
