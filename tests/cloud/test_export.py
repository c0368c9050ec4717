"""`GET /api/me/export`: the archive opened and compared with the database and the object store.

On PostgreSQL with S3 (the loopback server); two students, so that the archive is checked to
hold every row of its owner and nothing of anyone else.
"""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic.alias_generators import to_camel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from cloud import __version__
from cloud.db.models import Base
from cloud.export import ROW_FILES, CloudExport
from cloud.services import CloudServices
from cloud.tokens import hash_token
from shared.archive import EXTENSIONS, ORIGINAL_PATH, original_path
from shared.clock import SystemClock, to_iso
from tests.cloud.privacy_support import Student, image_ref, seeded_student
from tests.cloud.support import (
    bearer,
    cloud_env,
    data_of,
    error_of,
    event_item,
    link_device,
    running_cloud,
    session_item,
    sign_in,
)
from tests.conftest import SlowCallbackWatch
from tests.fakes.google import FakeGoogle
from tests.support import FakeClock

pytestmark = pytest.mark.postgresql_only


def services_of(cloud: httpx.AsyncClient) -> CloudServices:
    """The services of the app behind an in-process client."""
    app: FastAPI = cloud._transport.app  # type: ignore[attr-defined]
    found: CloudServices = app.state.services
    return found


@pytest.fixture
async def s3_cloud(start_cloud: Any, s3_settings: dict[str, Any]) -> httpx.AsyncClient:
    """The cloud on PostgreSQL and S3."""
    client: httpx.AsyncClient = await start_cloud(**s3_settings)
    return client


@pytest.fixture
async def two(s3_cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock) -> list[Student]:
    """Ada and Eve, each with an edge, facts of every kind and two originals."""
    return [
        await seeded_student(s3_cloud, google, "ada", clock.now(), seed=1),
        await seeded_student(s3_cloud, google, "eve", clock.now(), seed=2),
    ]


async def archive_of(cloud: httpx.AsyncClient, headers: dict[str, str]) -> zipfile.ZipFile:
    """Download the export and open it."""
    response = await cloud.get("/api/me/export", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def lines(archive: zipfile.ZipFile, kind: str) -> list[dict[str, Any]]:
    """The rows of one JSON Lines file."""
    return [json.loads(line) for line in archive.read(f"data/{kind}.jsonl").splitlines()]


def wire(value: Any) -> Any:
    """A column value as the archive writes it."""
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


async def table_rows(cloud: httpx.AsyncClient, table: type[Base], user_id: str) -> list[Any]:
    """Every column of every row of `user_id` in one table, read from the database itself."""
    engine = create_async_engine(services_of(cloud).settings.database_address())
    try:
        async with engine.connect() as db:
            found = await db.execute(
                select(table.__table__).where(table.__table__.c.user_id == user_id)
            )
            return [dict(row) for row in found.mappings()]
    finally:
        await engine.dispose()


# --- the archive against the stores -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(ROW_FILES))
async def test_each_file_holds_every_row_of_the_user_and_every_column(
    s3_cloud: httpx.AsyncClient, two: list[Student], kind: str
) -> None:
    """Each line is one of the user's rows with all its columns but the owner, none missing."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    rows = await table_rows(s3_cloud, ROW_FILES[kind].table, ada.user_id)
    expected = [
        {to_camel(column): wire(value) for column, value in row.items() if column != "user_id"}
        for row in rows
    ]
    assert rows
    assert sorted(lines(archive, kind), key=lambda line: line["id"]) == sorted(
        expected, key=lambda line: line["id"]
    )


async def test_nothing_of_another_student_is_in_the_archive(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """No id, device or original of Eve's appears anywhere in Ada's archive."""
    ada, eve = two
    archive = await archive_of(s3_cloud, ada.me)
    everything = b"".join(archive.read(name) for name in archive.namelist())
    theirs = [eve.user_id, eve.device["deviceId"], *eve.images]
    theirs += [item["id"] for items in eve.items.values() for item in items]
    assert [value for value in theirs if value.encode() in everything] == []


async def test_every_original_is_in_the_archive_byte_for_byte(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """Each of the user's images is at originals/ab/cd/<sha256>.<ext> with the uploaded bytes."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    stored = {
        name: archive.read(name) for name in archive.namelist() if name.startswith("originals/")
    }
    uploaded = {original_path(sha, kind): data for sha, (kind, data) in ada.images.items()}
    assert stored == uploaded
    assert all(ORIGINAL_PATH.fullmatch(name.removeprefix("originals/")) for name in stored)


async def test_the_manifest_says_what_the_archive_holds(
    s3_cloud: httpx.AsyncClient, two: list[Student], clock: FakeClock
) -> None:
    """Format, versions, source, account, counts per file, originals with SHA-256 and size."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "studylens-export"
    assert manifest["formatVersion"] == 1
    assert manifest["appVersion"] == __version__
    assert manifest["createdAt"] == to_iso(clock.now())
    assert manifest["source"] == "cloud"
    assert manifest["account"]["id"] == ada.user_id
    assert manifest["account"]["email"] == "ada@example.com"
    assert manifest["counts"] == {kind: len(lines(archive, kind)) for kind in ROW_FILES}
    assert manifest["originals"] == [
        {
            "path": name,
            "sha256": hashlib.sha256(archive.read(name)).hexdigest(),
            "bytes": len(archive.read(name)),
        }
        for name in sorted(n for n in archive.namelist() if n.startswith("originals/"))
    ]


async def test_cards_and_their_grades_are_exported_with_their_counts(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """cards.jsonl and review_logs.jsonl hold the student's card and grade, counted, by name."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    counts = json.loads(archive.read("manifest.json"))["counts"]
    [card], [grade] = lines(archive, "cards"), lines(archive, "review_logs")
    [sent_card], [sent_grade] = ada.items["card"], ada.items["review_log"]
    assert (counts["cards"], counts["review_logs"]) == (1, 1)
    assert (card["id"], card["state"], card["step"], card["lastReview"]) == (
        sent_card["id"],
        "learning",
        0,
        None,
    )
    assert (card["question"], card["deviceId"]) == (
        sent_card["payload"]["question"],
        ada.device["deviceId"],
    )
    assert (grade["id"], grade["cardId"], grade["rating"], grade["state"]) == (
        sent_grade["id"],
        sent_card["id"],
        "again",
        "review",
    )


async def test_the_readme_describes_every_file_and_field(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """README.md names every JSON Lines file and every field any of its lines has."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    readme = archive.read("README.md").decode()
    missing = [
        f"{kind}.{field}"
        for kind in ROW_FILES
        for field in lines(archive, kind)[0]
        if f"`data/{kind}.jsonl`" not in readme or f"- `{field}`: " not in readme
    ]
    assert missing == []
    assert "manifest.json" in readme
    assert "originals/ab/cd/<sha256>.<ext>" in readme


async def test_devices_carry_no_token_material(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """The linked edge is listed by name and dates; no token or token hash is anywhere."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    [device] = lines(archive, "devices")
    assert set(device) == {"id", "name", "createdAt", "lastSeenAt", "revokedAt"}
    assert device["id"] == ada.device["deviceId"]
    everything = b"".join(archive.read(name) for name in archive.namelist())
    secrets = [
        *(ada.device[k] for k in ("accessToken", "refreshToken")),
        *(ada.user[k] for k in ("accessToken", "refreshToken")),
        hash_token(ada.device["refreshToken"]),
        hash_token(ada.user["refreshToken"]),
    ]
    assert [s for s in secrets if s.encode() in everything] == []


async def test_originals_are_stored_uncompressed_and_rows_deflated(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """Images do not compress, so they are not tried; the text does."""
    ada, _ = two
    archive = await archive_of(s3_cloud, ada.me)
    methods = {info.filename: info.compress_type for info in archive.infolist()}
    assert {m for n, m in methods.items() if n.startswith("originals/")} == {zipfile.ZIP_STORED}
    assert {m for n, m in methods.items() if n.startswith("data/")} == {zipfile.ZIP_DEFLATED}


async def test_an_empty_account_exports_a_valid_zip(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Just signed in: every file is there and empty, counts are zero, no originals."""
    pair = await sign_in(cloud, google)
    archive = await archive_of(cloud, bearer(pair["accessToken"]))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted(
        ["manifest.json", "README.md", *(f"data/{kind}.jsonl" for kind in ROW_FILES)]
    )
    assert all(archive.read(f"data/{kind}.jsonl") == b"" for kind in ROW_FILES)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"] == dict.fromkeys(ROW_FILES, 0)
    assert manifest["originals"] == []


async def test_the_download_is_named_and_not_cached(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """An attachment with the day in its name, never kept by a cache on the way."""
    pair = await sign_in(cloud, google)
    response = await cloud.get("/api/me/export", headers=bearer(pair["accessToken"]))
    assert response.headers["content-disposition"] == (
        'attachment; filename="studylens-export-2026-11-25.zip"'
    )
    assert response.headers["cache-control"] == "no-store"


# --- who may export -------------------------------------------------------------------------


async def test_a_devices_sync_token_is_403(s3_cloud: httpx.AsyncClient, two: list[Student]) -> None:
    """A linked edge cannot download its student's data."""
    ada, _ = two
    response = await s3_cloud.get("/api/me/export", headers=ada.edge)
    assert error_of(response, 403)["code"] == "insufficient_scope"


async def test_without_a_token_it_is_401(cloud: httpx.AsyncClient) -> None:
    """No token, no archive."""
    assert error_of(await cloud.get("/api/me/export"), 401)["code"] == "unauthenticated"


async def test_an_expired_token_is_401(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """An access token past its 15 minutes gets no archive."""
    pair = await sign_in(cloud, google)
    clock.advance(16 * 60)
    response = await cloud.get("/api/me/export", headers=bearer(pair["accessToken"]))
    assert error_of(response, 401)["code"] == "invalid_token"


# --- streamed ---------------------------------------------------------------------------------

#: The big export: enough rows for several chunks, enough bytes for many blocks.
MANY_EVENTS = 1_600
MANY_IMAGES = 12
IMAGE_BYTES = 1 << 20
#: Larger than the memory bound, so that holding any one original whole breaks it.
BIG_IMAGE_BYTES = 8 << 20
#: What the export may hold at once: a few 1 MiB blocks (`cloud.images.READ_BLOCK`).
MEMORY_BOUND = 5 << 20


def noise(seed: int, size: int = IMAGE_BYTES) -> bytes:
    """Bytes that do not compress (uploaded as a JPEG: only the hash is checked)."""
    return hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)


async def sync_many(cloud: httpx.AsyncClient, edge: dict[str, str], start: datetime) -> None:
    """One session, `MANY_EVENTS` learning events, in batches of 500."""
    session = session_item(start)
    items = [session] + [
        event_item(session["id"], "biology", start + timedelta(seconds=i))
        for i in range(MANY_EVENTS)
    ]
    for first in range(0, len(items), 500):
        batch = items[first : first + 500]
        data_of(await cloud.post("/api/sync/batch", json={"items": batch}, headers=edge))


async def upload_many(
    cloud: httpx.AsyncClient,
    edge: dict[str, str],
    count: int = MANY_IMAGES,
    size: int = IMAGE_BYTES,
) -> dict[str, bytes]:
    """`count` originals of `size` bytes each, uploaded to S3 and confirmed."""
    blobs = [noise(i, size) for i in range(count)]
    images = {hashlib.sha256(data).hexdigest(): data for data in blobs}
    refs = [image_ref(data, "image/jpeg") for data in images.values()]
    presigned = data_of(
        await cloud.post("/api/sync/images/presign", json={"items": refs}, headers=edge)
    )
    async with httpx.AsyncClient() as outside:
        for target in presigned["uploads"]:
            data = images[target["sha256"]]
            put = await outside.put(target["url"], content=data, headers=target["headers"])
            assert put.status_code == 200, put.text
    confirmed = data_of(
        await cloud.post("/api/sync/images/presign", json={"items": refs}, headers=edge)
    )
    assert sorted(confirmed["stored"]) == sorted(images)
    return images


@pytest.mark.timeout(180)
async def test_a_big_export_streams_over_loopback(
    pg_database_url: str, live_google: FakeGoogle, s3_settings: dict[str, Any], tmp_path: Path
) -> None:
    """From a `serve` process: sent in many pieces without a length, and complete."""
    env = cloud_env(tmp_path / "cloud", live_google, s3=s3_settings, database_url=pg_database_url)
    async with (
        running_cloud(env) as [server],
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as client,
    ):
        student = data_of(
            await client.post("/api/auth/google", json={"idToken": live_google.token()})
        )
        client.cookies.clear()
        edge = bearer((await link_device(client, student))["accessToken"])
        await sync_many(client, edge, SystemClock().now())
        images = await upload_many(client, edge)
        target = tmp_path / "export.zip"
        pieces = 0
        async with client.stream(
            "GET", "/api/me/export", headers=bearer(student["accessToken"])
        ) as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers
            with target.open("wb") as out:
                async for piece in response.aiter_raw():
                    out.write(piece)
                    pieces += 1
    assert pieces > MANY_IMAGES
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        assert len(lines(archive, "learning_events")) == MANY_EVENTS
        assert {
            name.rsplit("/", 1)[-1].split(".")[0]: archive.read(name)
            for name in archive.namelist()
            if name.startswith("originals/")
        } == images


async def test_memory_does_not_grow_with_the_data(
    s3_cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """Two 8 MiB originals and 1,600 rows pass through in a few MiB: no original held whole."""
    pair = await sign_in(s3_cloud, google)
    edge = bearer((await link_device(s3_cloud, pair))["accessToken"])
    await sync_many(s3_cloud, edge, clock.now())
    await upload_many(s3_cloud, edge, count=2, size=BIG_IMAGE_BYTES)
    svc = services_of(s3_cloud)
    export = CloudExport(svc.auth.sessions, svc.objects, svc.clock, __version__)
    total = 0
    tracemalloc.start()
    try:
        async for piece in export.stream(pair["userId"]):
            total += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 2 * BIG_IMAGE_BYTES
    assert peak < MEMORY_BOUND, f"peak {peak / 2**20:.1f} MiB for {total / 2**20:.1f} MiB"


async def test_the_export_never_holds_the_event_loop(
    s3_cloud: httpx.AsyncClient,
    google: FakeGoogle,
    clock: FakeClock,
    no_slow_callbacks: SlowCallbackWatch,
) -> None:
    """Compression, hashing and the store's reads run beside the loop, not on it."""
    pair = await sign_in(s3_cloud, google)
    edge = bearer((await link_device(s3_cloud, pair))["accessToken"])
    await sync_many(s3_cloud, edge, clock.now())
    await upload_many(s3_cloud, edge)
    svc = services_of(s3_cloud)
    export = CloudExport(svc.auth.sessions, svc.objects, svc.clock, __version__)
    with no_slow_callbacks():
        total = sum([len(piece) async for piece in export.stream(pair["userId"])])
    assert total > MANY_IMAGES * IMAGE_BYTES


async def test_a_recorded_image_missing_from_the_store_is_left_out(
    s3_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """An `images` row whose object is gone: the rest of the archive is whole and valid."""
    ada, _ = two
    gone = next(iter(ada.images))
    await services_of(s3_cloud).objects.delete([f"users/{ada.user_id}/images/{gone}"])
    archive = await archive_of(s3_cloud, ada.me)
    assert archive.testzip() is None
    names = [n for n in archive.namelist() if n.startswith("originals/")]
    assert [n for n in names if gone in n] == []
    assert len(names) == len(ada.images) - 1
    assert len(json.loads(archive.read("manifest.json"))["originals"]) == len(names)


def test_every_stored_image_type_has_an_extension() -> None:
    """The types the cloud accepts for upload all map to an archive extension."""
    from shared.sync import IMAGE_TYPES

    assert set(IMAGE_TYPES) <= set(EXTENSIONS)
