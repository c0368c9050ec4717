"""The Privacy page's routes: the summary, the export download, forget and its preview."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from edge.settings import EdgeSettings
from shared.clock import to_iso
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import (
    AppClient,
    FakeClock,
    LogLine,
    StartApp,
    authorized,
    berlin,
    data_of,
    error_of,
    pair_device,
    services_of,
    start_session,
    upload,
)

SUMMARY = "/api/privacy/summary"
EXPORT = "/api/privacy/export"
PREVIEW = "/api/privacy/forget/preview"
FORGET = "/api/privacy/forget"
UNKNOWN_SESSION = "7d9c1f8e-3b1a-4c2e-9f4d-5a6b7c8d9e0f"
#: The `clock` fixture's start, when `studied` starts its session.
STARTED = berlin("2026-11-25 10:00")
FOREIGN_PAGES = [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]


@pytest.fixture
async def owner(start_app: StartApp, openai_peer: FakeOpenAI) -> AppClient:
    """The daemon as this computer's browser calls it, with a vision model for frames."""
    client: AppClient = await start_app(
        as_owner=True,
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
    )
    return client


@pytest.fixture
async def studied(owner: AppClient, clock: FakeClock) -> str:
    """One session with two frames (two originals), a bookmark and a help request."""
    session = await start_session(owner)
    frame = await upload(owner, jpeg(640, 480, seed=1), session)
    clock.advance(30)
    await upload(owner, jpeg(640, 480, seed=2), session)
    body = {"sessionId": session, "analysisId": frame["analysisId"], "note": ""}
    await data_of(await owner.post("/api/bookmark", json=body), 201)
    await data_of(await owner.post("/api/help-count", json={"sessionId": session}), 201)
    return session


def temp_area(settings: EdgeSettings) -> list[Path]:
    """The files in the data dir's temp area."""
    folder = settings.temp_path
    return sorted(folder.iterdir()) if folder.exists() else []


def open_exports(settings: EdgeSettings) -> list[str]:
    """The export archives this process holds open in the temp area (deleted or not)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(f"{settings.temp_path}/export-"):
            found.append(target)
    return found


async def status_and_code(
    anon: aiohttp.ClientSession, client: AppClient, method: str, path: str, **kw: Any
) -> tuple[int, str]:
    """The status and error code of one request from outside the test client."""
    async with anon.request(method, client.make_url(path), **kw) as response:
        body = await response.json()
        return response.status, body["error"]["code"]


# --- the summary ------------------------------------------------------------------------------


async def stored_segments(client: AppClient) -> int:
    """Rows in the topic segments table."""
    row = await services_of(client).store.run(
        lambda db: db.execute("SELECT count(*) AS n FROM topic_segments").fetchone()
    )
    return int(row["n"])


async def test_the_summary_counts_what_is_stored(owner: AppClient, studied: str) -> None:
    """One session, two frames and their originals, one bookmark, one help request."""
    found = await data_of(await owner.get(SUMMARY))

    assert found["counts"] == {
        "sessions": 1,
        "learningEvents": 2,
        "topicSegments": await stored_segments(owner),
        "bookmarks": 1,
        "helpRequests": 1,
        "cards": 0,
        "reviewLogs": 0,
        "originals": 2,
        "recordings": 0,
    }


async def test_the_summary_measures_the_disk(owner: AppClient, studied: str) -> None:
    """The database and the originals take bytes; the total is their sum."""
    sizes = (await data_of(await owner.get(SUMMARY)))["bytes"]

    assert sizes["database"] > 0
    assert sizes["originals"] > 0
    assert sizes["total"] == sizes["database"] + sizes["originals"] + sizes["recordings"]


async def test_the_summary_dates_the_oldest_and_newest_item(
    owner: AppClient, studied: str, clock: FakeClock
) -> None:
    """`oldest` is when the session started, `newest` its latest activity (30 s later)."""
    found = await data_of(await owner.get(SUMMARY))

    assert found["oldest"] == to_iso(STARTED)
    assert found["newest"] == to_iso(STARTED + timedelta(seconds=30))


async def test_an_empty_store_has_no_oldest_item(owner: AppClient) -> None:
    """Nothing stored: zero everywhere and no dates."""
    found = await data_of(await owner.get(SUMMARY))

    assert set(found["counts"].values()) == {0}
    assert (found["oldest"], found["newest"]) == (None, None)


async def test_the_summary_says_the_retention_in_force(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """The daemon's own keep-less and retention settings, as it runs with them."""
    client = await start_app(
        as_owner=True,
        keep_originals=False,
        store_extracted_text=False,
        originals_retention_days=14,
        voice_record=True,
        voice_recording_retention_days=2,
    )

    found = await data_of(await client.get(SUMMARY))

    assert found["retention"] == {
        "keepOriginals": False,
        "storeExtractedText": False,
        "originalsRetentionDays": 14,
        "voiceRecording": True,
        "voiceRecordingRetentionDays": 2,
    }


async def test_the_summary_names_the_daemons_day(owner: AppClient, clock: FakeClock) -> None:
    """`today` is the day in the student's zone: at 00:30 in Berlin, UTC is still on the last."""
    clock.current = berlin("2026-11-26 00:30")

    found = await data_of(await owner.get(SUMMARY))

    assert found["today"] == "2026-11-26"


async def test_the_summary_shows_the_pause(owner: AppClient, clock: FakeClock) -> None:
    """While paused, the summary carries the pause and its end."""
    paused = await data_of(await owner.post("/api/privacy/pause", json={"minutes": 30}))

    found = await data_of(await owner.get(SUMMARY))

    assert found["pause"] == paused
    assert found["pause"]["paused"] is True


# --- the export -------------------------------------------------------------------------------


async def download(client: AppClient) -> tuple[aiohttp.ClientResponse, bytes]:
    """GET the export: the response and its body."""
    response = await client.get(EXPORT)
    assert response.status == 200, await response.text()
    return response, await response.read()


async def test_the_export_is_a_zip_whose_manifest_counts_match_the_store(
    owner: AppClient, studied: str
) -> None:
    """The download opens as the CLI's archive; its counts are what the summary counts."""
    _, body = await download(owner)
    stored = (await data_of(await owner.get(SUMMARY)))["counts"]

    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
    counts = manifest["counts"]
    assert counts["sessions"] == stored["sessions"] == 1
    assert counts["learning_events"] == stored["learningEvents"]
    assert counts["topic_segments"] == stored["topicSegments"]
    assert counts["bookmarks"] == stored["bookmarks"]
    assert counts["help_requests"] == stored["helpRequests"]
    assert len(manifest["originals"]) == stored["originals"] == 2
    assert {entry["path"] for entry in manifest["originals"]} <= names
    assert "README.md" in names


async def test_the_export_is_a_named_private_attachment(
    owner: AppClient, studied: str, clock: FakeClock
) -> None:
    """A zip, saved under the day's name, never kept by a cache, its length announced."""
    response, body = await download(owner)

    assert response.content_type == "application/zip"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="studylens-export-2026-11-25.zip"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content_length == len(body)


async def test_the_export_leaves_nothing_in_the_temp_area(
    owner: AppClient, studied: str, settings: EdgeSettings
) -> None:
    """After the download, the data dir's temp area is empty and no archive file is open."""
    await download(owner)

    assert temp_area(settings) == []
    assert open_exports(settings) == []


async def test_a_browser_leaving_mid_download_leaves_nothing(
    owner: AppClient, studied: str, settings: EdgeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """The archive has no name from the start; when the browser goes, the file is closed."""
    caplog.set_level(logging.INFO)
    # An original too large to fit in the sockets' buffers: random bytes do not compress.
    original = next(p for p in (settings.data_dir / "images").rglob("*") if p.is_file())
    original.write_bytes(os.urandom(24 * 1024 * 1024))
    reader, writer = await asyncio.open_connection(owner.host, owner.port)
    try:
        with LogLine("edge.http.privacy", "ended early") as ended:
            writer.write(f"GET {EXPORT} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            async with asyncio.timeout(30):
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(64 * 1024)
            assert head.startswith(b"HTTP/1.1 200")
            assert temp_area(settings) == []  # while the download runs

            writer.transport.abort()
            async with asyncio.timeout(30):
                await ended.seen.wait()
    finally:
        writer.close()

    assert temp_area(settings) == []
    assert open_exports(settings) == []


async def test_an_export_of_an_empty_store_is_still_an_archive(owner: AppClient) -> None:
    """No facts yet: a valid archive with no rows of any kind but the paired phone."""
    _, body = await download(owner)

    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        counts = json.loads(zf.read("manifest.json"))["counts"]
    assert counts.pop("devices") == 1
    assert set(counts.values()) == {0}


# --- who may -----------------------------------------------------------------------------------

OWNER_ROUTES = [("GET", SUMMARY), ("GET", EXPORT), ("POST", PREVIEW), ("POST", FORGET)]


@pytest.mark.parametrize(("method", "path"), OWNER_ROUTES)
async def test_a_phone_is_refused(
    owner: AppClient,
    anon: aiohttp.ClientSession,
    settings: EdgeSettings,
    method: str,
    path: str,
) -> None:
    """A paired phone's token gets 403: what is kept, a copy, deleting it: the owner's."""
    token = pair_device(settings, "phone")

    got = await status_and_code(
        anon, owner, method, path, headers=authorized(token), json={"all": True}
    )

    assert got == (403, "forbidden")


@pytest.mark.parametrize("page", FOREIGN_PAGES, ids=["origin", "sec-fetch-site"])
@pytest.mark.parametrize(("method", "path"), OWNER_ROUTES)
async def test_another_sites_page_is_refused(
    owner: AppClient,
    anon: aiohttp.ClientSession,
    page: dict[str, str],
    method: str,
    path: str,
) -> None:
    """A foreign page in the owner's own browser gets 403 before anything is read."""
    got = await status_and_code(anon, owner, method, path, headers=page, json={"all": True})

    assert got == (403, "cross_site_refused")


async def test_a_foreign_page_starts_no_export(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings
) -> None:
    """The refusal comes before the work: no temp area is even made."""
    await status_and_code(anon, owner, "GET", EXPORT, headers=FOREIGN_PAGES[0])

    assert not settings.temp_path.exists()


async def test_a_refused_forget_deletes_nothing(
    owner: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings, studied: str
) -> None:
    """`{"all": true}` from a phone and from a foreign page: every session is still there."""
    phone = authorized(pair_device(settings, "phone"))
    for headers in (phone, *FOREIGN_PAGES):
        await status_and_code(anon, owner, "POST", FORGET, headers=headers, json={"all": True})

    assert (await data_of(await owner.get(SUMMARY)))["counts"]["sessions"] == 1


# --- forget -----------------------------------------------------------------------------------


@pytest.fixture
async def two_days(owner: AppClient, clock: FakeClock) -> tuple[str, str]:
    """A session with two frames on 25 November, ended; one with a frame on the 26th, running."""
    first = await start_session(owner)
    await upload(owner, jpeg(640, 480, seed=1), first)
    clock.advance(60)
    await upload(owner, jpeg(640, 480, seed=2), first)
    await data_of(await owner.post(f"/api/session/{first}/end"))
    clock.current = berlin("2026-11-26 09:00")
    second = await start_session(owner)
    await upload(owner, jpeg(640, 480, seed=3), second)
    return first, second


async def counts(client: AppClient) -> dict[str, int]:
    """The summary's counts."""
    found: dict[str, int] = (await data_of(await client.get(SUMMARY)))["counts"]
    return found


async def test_the_preview_names_what_would_go_and_deletes_nothing(
    owner: AppClient, two_days: tuple[str, str]
) -> None:
    """Before the 26th: the first session, its two frames and two originals; still all there."""
    before = await counts(owner)

    preview = await data_of(await owner.post(PREVIEW, json={"before": "2026-11-26"}))

    assert preview["deleted"] is False
    assert preview["scope"] == {"before": "2026-11-26", "sessionId": None, "all": False}
    assert (preview["sessions"], preview["learningEvents"], preview["originals"]) == (1, 2, 2)
    assert preview["bytes"] > 0
    assert await counts(owner) == before


async def test_forget_before_a_day_deletes_the_sessions_before_it(
    owner: AppClient, two_days: tuple[str, str]
) -> None:
    """What the preview named is deleted; the summary then counts only the second day."""
    preview = await data_of(await owner.post(PREVIEW, json={"before": "2026-11-26"}))

    done = await data_of(await owner.post(FORGET, json={"before": "2026-11-26"}))

    assert done["deleted"] is True
    assert {k: v for k, v in done.items() if k != "deleted"} == {
        k: v for k, v in preview.items() if k != "deleted"
    }
    left = await counts(owner)
    assert (left["sessions"], left["learningEvents"], left["originals"]) == (1, 1, 1)


async def test_forget_one_session_keeps_the_others(
    owner: AppClient, two_days: tuple[str, str]
) -> None:
    """By id: the running session goes, the ended one stays."""
    _, second = two_days

    done = await data_of(await owner.post(FORGET, json={"sessionId": second}))

    assert (done["sessions"], done["learningEvents"]) == (1, 1)
    sessions = await data_of(await owner.get("/api/sessions"))
    assert [s["sessionId"] for s in sessions["sessions"]] == [two_days[0]]


async def test_forget_everything_leaves_an_empty_store(
    owner: AppClient, two_days: tuple[str, str]
) -> None:
    """`all: true`: every count is zero afterwards, and the summary has no oldest item."""
    done = await data_of(await owner.post(FORGET, json={"all": True}))

    assert done["sessions"] == 2
    found = await data_of(await owner.get(SUMMARY))
    assert set(found["counts"].values()) == {0}
    assert found["oldest"] is None


@pytest.mark.parametrize("path", [PREVIEW, FORGET])
@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "invalid_json"),
        (b"[1]", "invalid_request"),
        (b"", "invalid_request"),  # no body: none of the three
        (b"{}", "invalid_request"),
        (b'{"all": false}', "invalid_request"),
        (b'{"all": "true"}', "invalid_request"),
        (b'{"all": true, "everything": true}', "invalid_request"),
        (b'{"before": "2026-11-20", "all": true}', "invalid_request"),
        (
            b'{"before": "2026-11-20", "sessionId": "%s"}' % UNKNOWN_SESSION.encode(),
            "invalid_request",
        ),
        (b'{"before": "2026-11-27"}', "date_in_future"),
        (b'{"before": "2026-13-01"}', "invalid_request"),
        (b'{"before": "yesterday"}', "invalid_request"),
        (b'{"sessionId": "not-a-uuid"}', "invalid_request"),
        (b'{"sessionId": "../../studylens.db"}', "invalid_request"),
        (b'{"sessionId": 42}', "invalid_request"),
    ],
    ids=lambda v: v.decode()[:40] if isinstance(v, bytes) else v,
)
async def test_a_bad_scope_is_refused_and_deletes_nothing(
    owner: AppClient, two_days: tuple[str, str], path: str, body: bytes, code: str
) -> None:
    """Each malformed, ambiguous or out-of-range scope is a 400 in the envelope; all stays."""
    before = await counts(owner)
    headers = {"Content-Type": "application/json"}

    error = await error_of(await owner.post(path, data=body, headers=headers), 400)

    assert error["code"] == code
    assert await counts(owner) == before


@pytest.mark.parametrize("path", [PREVIEW, FORGET])
async def test_an_unknown_session_is_404(
    owner: AppClient, two_days: tuple[str, str], path: str
) -> None:
    """A well-formed id no session has: 404 `session_not_found`, nothing deleted."""
    before = await counts(owner)

    error = await error_of(await owner.post(path, json={"sessionId": UNKNOWN_SESSION}), 404)

    assert error["code"] == "session_not_found"
    assert await counts(owner) == before


@pytest.mark.parametrize("path", [PREVIEW, FORGET])
async def test_the_field_at_fault_is_named(owner: AppClient, path: str) -> None:
    """An unknown field is named in the error's details, so a typo is found at once."""
    error = await error_of(await owner.post(path, json={"sesionId": UNKNOWN_SESSION}), 400)

    assert "sesionId" in {problem["field"] for problem in error["details"]}


async def test_an_archive_left_by_a_stopped_daemon_is_removed_at_start(
    start_app: StartApp, settings: EdgeSettings
) -> None:
    """A daemon killed mid-build leaves a partial archive: the next start deletes it."""
    settings.temp_path.mkdir(parents=True)
    leftover = settings.temp_path / ".export-0123.zip.partial"
    leftover.write_bytes(b"PK half an archive")

    await start_app()

    assert temp_area(settings) == []
