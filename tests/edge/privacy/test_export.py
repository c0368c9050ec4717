"""`export`: the archive holds every row of every kind and every original, byte for byte."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from edge.errors import InvalidDate
from edge.frames.originals import OriginalStore
from edge.memory import records, review
from edge.memory.port import CardDraft
from edge.memory.scheduler import RATING_BY_NUMBER, STATE_NAMES, Scheduler
from edge.privacy import export
from edge.privacy.archive import ROW_FILES, Step
from edge.privacy.errors import ExportTargetExists, SinceInFuture
from edge.settings import EdgeSettings
from edge.store import open_database
from shared.archive import data_path
from shared.clock import to_iso
from tests.edge.memory.conftest import MITOSIS, PHOTOSYNTHESIS, STARTED, add_session
from tests.edge.privacy.conftest import (
    RECORDING,
    TABLES,
    Studied,
    export_now,
    jsonl,
    manifest_of,
    originals,
)
from tests.fakes.images import jpeg
from tests.support import (
    ZONE,
    AppClient,
    FakeClock,
    berlin,
    data_of,
    form,
    start_session,
    track,
    upload,
)

#: The archive's file of each table, and the columns its lines do not carry as such.
EXPORTED = {
    "session_days": "study_days",
    "sessions": "sessions",
    "learning_events": "learning_events",
    "topic_segments": "topic_segments",
    "bookmarks": "bookmarks",
    "help_requests": "help_requests",
    "cards": "cards",
    "review_logs": "review_logs",
    "carded_pages": "carded_pages",
}


def camel(column: str) -> str:
    """`captured_at` -> `capturedAt`."""
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def expected_line(table: str, row: sqlite3.Row) -> dict[str, Any]:
    """What a table row must look like in the archive (the joined topic names included)."""
    line: dict[str, Any] = {}
    for column in row.keys():  # noqa: SIM118 - sqlite3.Row
        value = row[column]
        if column in {"topic_id", "subtopic_id", "user_id", "question_key"}:
            continue
        if column == "state" and table in {"cards", "review_logs"}:
            line["state"] = STATE_NAMES[value]
        elif column == "rating":
            line["rating"] = RATING_BY_NUMBER[value]
        elif column == "learning_event_id" and table == "carded_pages":
            line["id"] = value
        elif column == "topic_name":
            line["topic"] = value
        elif column == "subtopic_name":
            line["subtopic"] = value
        elif column == "analysis_json":
            line["analysis"] = json.loads(value) if value is not None else None
        elif column.startswith("is_"):
            line[camel(column)] = None if value is None else bool(value)
        else:
            line[camel(column)] = value
    if table == "sessions":
        line["localDate"] = row["day_local_date"]
        del line["dayLocalDate"]
    return line


def test_the_archive_holds_every_row_of_every_kind(studied: Studied, tmp_path: Path) -> None:
    """Each row of each fact table is one line of its file, every column equal."""
    out = tmp_path / "export.zip"
    manifest = export_now(studied, out)
    conn = sqlite3.connect(studied.settings.database_path)
    conn.row_factory = sqlite3.Row
    try:
        for table, kind in EXPORTED.items():
            sql = TABLES[table]
            if table == "sessions":
                sql = """SELECT s.*, d.local_date AS day_local_date FROM sessions s
                         JOIN session_days d ON d.id = s.day_id ORDER BY s.id"""
            want = {
                line["id"]: line for line in (expected_line(table, r) for r in conn.execute(sql))
            }
            got = {line["id"]: line for line in jsonl(out, kind)}
            assert want, table  # the fixture made some of every kind
            assert got == want, table
            assert manifest.counts[kind] == len(want)
    finally:
        conn.close()


def test_devices_are_listed_without_their_token_hashes(studied: Studied, tmp_path: Path) -> None:
    """The paired phone is in devices.jsonl; its token hash is nowhere in the archive."""
    out = tmp_path / "export.zip"
    export_now(studied, out)
    db = open_database(studied.settings.database_path)
    try:
        devices = list(db.query("SELECT id, name, token_hash FROM devices"))
    finally:
        db.close()
    assert [(d["id"], d["name"]) for d in jsonl(out, "devices")] == [
        (d["id"], d["name"]) for d in devices
    ]
    assert "tokenHash" not in jsonl(out, "devices")[0]
    with zipfile.ZipFile(out) as zf:
        everything = b"".join(zf.read(name) for name in zf.namelist())
    for device in devices:
        assert device["token_hash"].encode() not in everything


def test_every_original_and_recording_is_there_byte_for_byte(
    studied: Studied, tmp_path: Path
) -> None:
    """Each event's original is in the archive with the SHA-256 of the file on disk."""
    out = tmp_path / "export.zip"
    manifest = export_now(studied, out)
    keys = {line["imageKey"] for line in jsonl(out, "learning_events")}
    assert len(keys) == 3  # four frames, one of them sent twice
    store = originals(studied.settings)
    with zipfile.ZipFile(out) as zf:
        for key in keys:
            on_disk = store.path_for(key).read_bytes()
            in_zip = zf.read(f"originals/{key[:2]}/{key[2:4]}/{key}")
            assert hashlib.sha256(in_zip).hexdigest() == hashlib.sha256(on_disk).hexdigest()
            assert hashlib.sha256(in_zip).hexdigest() == key.split(".")[0]
        recording = RECORDING.format(session=studied.synced_session)
        assert zf.read(recording) == (studied.settings.data_dir / recording).read_bytes()
        for entry in (*manifest.originals, *manifest.recordings):
            assert hashlib.sha256(zf.read(entry.path)).hexdigest() == entry.sha256
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    assert {e.path for e in manifest.originals} == {f"originals/{k[:2]}/{k[2:4]}/{k}" for k in keys}


def test_the_manifest_carries_the_sync_state(studied: Studied, tmp_path: Path) -> None:
    """Format, version, counts, and each fact's revisions as the outbox holds them."""
    out = tmp_path / "export.zip"
    export_now(studied, out)
    found = manifest_of(out)
    assert (found["format"], found["formatVersion"]) == ("studylens-export", 1)
    assert found["timeZone"] == "Europe/Berlin"
    assert found["createdAt"] == to_iso(studied.clock.now())
    assert found["since"] is None
    db = open_database(studied.settings.database_path)
    try:
        outbox = [
            [r["kind"], r["fact_id"], r["revision"], r["delivered_revision"], r["rejected_code"]]
            for r in db.query("SELECT * FROM sync_outbox ORDER BY kind, fact_id")
        ]
        images = list(db.query("SELECT image_key, uploaded_at FROM sync_images"))
    finally:
        db.close()
    assert [
        [f["kind"], f["id"], f["revision"], f["deliveredRevision"], f["rejectedCode"]]
        for f in found["sync"]["outbox"]
    ] == outbox
    assert {(i["imageKey"], i["uploadedAt"]) for i in found["sync"]["images"]} == {
        (i["image_key"], i["uploaded_at"]) for i in images
    }


def test_the_readme_describes_every_file_and_field(studied: Studied, tmp_path: Path) -> None:
    """README.md names each JSON Lines file and each of its fields, and the time conventions."""
    out = tmp_path / "export.zip"
    export_now(studied, out)
    with zipfile.ZipFile(out) as zf:
        text = zf.read("README.md").decode()
    for convention in ("UTC", "time zone", "seconds"):
        assert convention in text
    for kind in ("cards", "review_logs", "carded_pages"):
        assert f"### `data/{kind}.jsonl`" in text
    for kind, model in ROW_FILES.items():
        assert f"`{data_path(kind)}`" in text
        for name, field in model.model_fields.items():
            assert f"- `{field.alias or name}`: " in text


def test_the_archive_is_the_students_alone(studied: Studied, tmp_path: Path) -> None:
    """The zip is 0600 whatever the umask, and no partial file is left beside it."""
    out = tmp_path / "export.zip"
    export_now(studied, out)
    assert out.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []


def test_an_existing_file_is_refused_unless_replacing(studied: Studied, tmp_path: Path) -> None:
    """Export never overwrites a file by surprise; `replace=True` (--force) does."""
    out = tmp_path / "export.zip"
    out.write_bytes(b"the student's other file")
    with pytest.raises(ExportTargetExists):
        export_now(studied, out)
    assert out.read_bytes() == b"the student's other file"
    export_now(studied, out, replace=True)
    assert zipfile.is_zipfile(out)


def test_progress_is_reported_up_to_the_total(studied: Studied, tmp_path: Path) -> None:
    """The steps grow to their total, each stage reported."""
    steps: list[Step] = []
    export_now(studied, tmp_path / "export.zip", progress=steps.append)
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    assert steps[-1].done == steps[-1].total
    assert {"sessions", "learning_events", "originals", "recordings"} <= {s.stage for s in steps}


# --- while frames arrive -------------------------------------------------------------------------


def test_frames_arriving_during_the_export_are_not_half_in_it(
    studied: Studied, tmp_path: Path
) -> None:
    """A session and a frame written while the export runs are wholly outside the archive.

    They are written from another connection right after the first file is done (through the
    progress callback), as the daemon would while the export reads.
    """
    settings = studied.settings
    writer = open_database(settings.database_path)
    late_frame = jpeg(320, 240, seed=9)
    late_key = f"{hashlib.sha256(late_frame).hexdigest()}.jpg"
    written: list[str] = []

    def frame_arrives(step: Step) -> None:
        if written:
            return
        [day] = writer.query("SELECT id FROM session_days LIMIT 1")
        at = to_iso(studied.clock.now())
        writer.execute(
            "INSERT INTO sessions (id, day_id, started_at, last_activity_at) VALUES (?, ?, ?, ?)",
            ["late-session", day["id"], at, at],
        )
        originals(settings).save(late_key, late_frame)
        writer.execute(
            "INSERT INTO learning_events (id, session_id, captured_at, image_key, outcome,"
            " error_code) VALUES (?, ?, ?, ?, 'failed', 'vision_unavailable')",
            ["late-event", "late-session", at, late_key],
        )
        written.append(step.stage)

    try:
        manifest = export_now(studied, tmp_path / "export.zip", progress=frame_arrives)
    finally:
        writer.close()
    out = tmp_path / "export.zip"
    assert written == ["study_days"]
    sessions = {line["id"] for line in jsonl(out, "sessions")}
    events = jsonl(out, "learning_events")
    assert "late-session" not in sessions
    assert "late-event" not in {e["id"] for e in events}
    assert {e["sessionId"] for e in events} <= sessions
    assert late_key not in {e.path.rsplit("/", 1)[1] for e in manifest.originals}
    assert all(manifest.counts[kind] == len(jsonl(out, kind)) for kind in ROW_FILES)
    assert "late-event" not in {f.id for f in manifest.sync.outbox}


# --- --since -------------------------------------------------------------------------------------


async def test_since_keeps_only_the_facts_of_that_day_on(
    client: AppClient, clock: FakeClock, settings: EdgeSettings, tmp_path: Path
) -> None:
    """Facts before local midnight of `since` (Berlin) stay out; those after are all in."""
    clock.current = berlin("2026-11-24 23:58")
    before = await start_session(client)
    await track(client, clock, before, "Biology")
    early = await client.post("/api/upload-and-analyze", data=form(jpeg(64, 48, seed=4)))
    clock.advance(60)  # 23:59 on the 24th
    await data_of(await client.post("/api/help-count", json={"sessionId": before}), 201)
    clock.advance(120)  # 00:01 on the 25th: the same session, a new day's help request
    await data_of(await client.post("/api/help-count", json={"sessionId": before}), 201)
    await data_of(await client.post(f"/api/session/{before}/end"))
    clock.current = berlin("2026-11-25 10:00")
    after = await start_session(client)
    late = await client.post(
        "/api/upload-and-analyze", data=form(jpeg(64, 48, seed=5)), headers={"X-Session-Id": after}
    )
    await track(client, clock, after, "Math")
    studied = Studied(client, settings, clock, before, after, ("", ""))

    out = tmp_path / "since.zip"
    manifest = export_now(studied, out, since=date(2026, 11, 25))

    assert [s["id"] for s in jsonl(out, "sessions")] == [after]
    # No model configured: each frame is kept as a failed event, the early one outside.
    assert (early.status, late.status) == (503, 503)
    assert [(e["sessionId"], e["outcome"]) for e in jsonl(out, "learning_events")] == [
        (after, "failed")
    ]
    assert len(manifest.originals) == 1
    assert [h["localDate"] for h in jsonl(out, "help_requests")] == ["2026-11-25"]
    # The first session's segment was split at midnight: its piece of the 25th is in.
    segments = jsonl(out, "topic_segments")
    assert {(g["sessionId"], g["localDate"]) for g in segments} == {
        (before, "2026-11-25"),
        (after, "2026-11-25"),
    }
    assert [d["localDate"] for d in jsonl(out, "study_days")] == ["2026-11-25"]
    assert manifest.since == date(2026, 11, 25)
    assert {f.id for f in manifest.sync.outbox} == {
        line["id"] for kind in EXPORTED.values() for line in jsonl(out, kind)
    } - {d["id"] for d in jsonl(out, "study_days")} - {p["id"] for p in jsonl(out, "carded_pages")}


def test_since_keeps_the_cards_grades_and_carded_pages_of_that_day_on(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """Cards by when they were made, grades by when they were given, pages by when carded."""
    yesterday = STARTED - timedelta(days=1)
    old_session, [old_page] = add_session(db, [MITOSIS], at=yesterday)
    draft = CardDraft(old_page, "Biology", None, "qa", "What is mitosis?", "Nuclear division")
    old_card = records.insert_card(db, old_session, draft, "on-device", yesterday)
    assert old_card is not None
    records.mark_carded(db, old_session, [old_page], "on-device", yesterday)
    review.grade(db, Scheduler(), old_card, "good", yesterday + timedelta(hours=1), ZONE)
    review.grade(db, Scheduler(), old_card, "easy", STARTED, ZONE)
    new_session, [new_page] = add_session(db, [PHOTOSYNTHESIS], at=STARTED)
    draft = CardDraft(new_page, "Biology", None, "qa", "Where is photosynthesis?", "Chloroplasts")
    new_card = records.insert_card(db, new_session, draft, "on-device", STARTED)
    records.mark_carded(db, new_session, [new_page], "on-device", STARTED)
    out = tmp_path / "since.zip"

    manifest = export.export_archive(
        db,
        out,
        originals=OriginalStore(tmp_path / "images"),
        recordings=tmp_path / "recordings",
        now=STARTED + timedelta(hours=2),
        zone=ZONE,
        app_version="test",
        since=STARTED.date(),
    )

    assert [c["id"] for c in jsonl(out, "cards")] == [new_card]
    assert [(g["cardId"], g["rating"]) for g in jsonl(out, "review_logs")] == [(old_card, "easy")]
    assert [p["id"] for p in jsonl(out, "carded_pages")] == [new_page]
    assert {(f.kind, f.id) for f in manifest.sync.outbox if f.kind == "card"} == {
        ("card", new_card)
    }


def test_since_a_bad_or_future_date_is_refused() -> None:
    """Not a date, or after today in the student's zone: a clear error."""
    now = berlin("2026-11-25 23:30")  # already the 26th in UTC+14, still the 25th in Berlin
    zone = ZoneInfo("Europe/Berlin")
    assert export.parse_since("2026-11-25", now, zone) == date(2026, 11, 25)
    with pytest.raises(SinceInFuture, match="after today"):
        export.parse_since("2026-11-26", now, zone)
    assert export.parse_since("2026-11-26", now, ZoneInfo("Pacific/Kiritimati"))
    with pytest.raises(InvalidDate, match="2026-13-01"):
        export.parse_since("2026-13-01", now, zone)
    with pytest.raises(InvalidDate, match="yesterday"):
        export.parse_since("yesterday", now, zone)


async def test_a_frame_through_the_running_daemon_mid_export_stays_out(
    studied: Studied, tmp_path: Path
) -> None:
    """The real pipeline stores a frame (original, event, segment) while the export reads.

    The export runs in a thread; after its first file it waits until the daemon has answered
    one more upload, so the frame is committed while the read transaction is open.
    """
    loop = asyncio.get_running_loop()
    arrived: list[dict[str, Any]] = []

    def frame_arrives(step: Step) -> None:
        if not arrived:
            sent = upload(studied.client, jpeg(640, 480, seed=7), studied.running_session)
            arrived.append(asyncio.run_coroutine_threadsafe(sent, loop).result(timeout=30))

    out = tmp_path / "export.zip"
    manifest = await asyncio.to_thread(export_now, studied, out, progress=frame_arrives)

    [frame] = arrived
    assert originals(studied.settings).path_for(frame["imageKey"]).is_file()
    events = jsonl(out, "learning_events")
    assert frame["analysisId"] not in {e["id"] for e in events}
    assert len(events) == 4  # the fixture's, not the fifth
    assert frame["imageKey"] not in {e.path.rsplit("/", 1)[1] for e in manifest.originals}
    assert {e["sessionId"] for e in events} <= {s["id"] for s in jsonl(out, "sessions")}
