"""A data dir with every kind of fact, some synced and some not, and how to compare stores."""

from __future__ import annotations

import json
import sqlite3
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from edge.frames.originals import OriginalStore
from edge.memory import records
from edge.memory.port import CardDraft
from edge.privacy.archive import Manifest
from edge.privacy.export import export_archive
from edge.privacy.forget import ForgetService
from edge.settings import EdgeSettings
from edge.store import open_database
from edge.sync import outbox
from tests.fakes.images import jpeg
from tests.support import AppClient, FakeClock, data_of, services_of, start_session, upload

RECORDING = "recordings/{session}-20261125T090500Z-input.wav"


@dataclass(frozen=True)
class Studied:
    """The running app and what the fixture made in its data dir."""

    client: AppClient
    settings: EdgeSettings
    clock: FakeClock
    synced_session: str  # delivered once, then ended: its newer revision is pending
    running_session: str  # never synced
    rejected_fact: tuple[str, str]  # (kind, id) the cloud refused


def originals(settings: EdgeSettings) -> OriginalStore:
    """The data dir's originals."""
    return OriginalStore(settings.data_dir / "images")


def wav(path: Path, frames: bytes) -> None:
    """A small PCM16 16 kHz recording, as the voice recorder writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(frames)


@pytest.fixture
async def studied(vision_client: AppClient, clock: FakeClock, settings: EdgeSettings) -> Studied:
    """Two sessions of frames, segments, a bookmark, help requests, cards, a recording, sync state.

    The first session's facts and originals were acknowledged by the cloud, then it was ended
    (a new revision, pending) and carded: its card was graded, acknowledged and graded again (a
    new revision and a second grade, pending); a help request was refused; the second session is
    unsynced and still running, with a cloze card of its own graded once (in review since).
    """
    client = vision_client
    store = services_of(client).store
    first = await start_session(client)
    frame = await upload(client, jpeg(640, 480, seed=1), first)
    # The model says no confidence; one event with one proves the column travels too.
    await store.run(
        lambda db: db.execute(
            "UPDATE learning_events SET confidence = 0.61 WHERE id = ?", [frame["analysisId"]]
        )
    )
    clock.advance(20)
    await upload(client, jpeg(640, 480, seed=2), first)
    await data_of(
        await client.post(
            "/api/bookmark",
            json={"sessionId": first, "note": "mitosis ✓", "analysisId": frame["analysisId"]},
        ),
        201,
    )
    help_request = await data_of(
        await client.post("/api/help-count", json={"sessionId": first}), 201
    )
    assert help_request["sessionCount"] == 1

    def acknowledge(db: sqlite_utils.Database) -> None:
        keys = [r["image_key"] for r in db.query("SELECT DISTINCT image_key FROM learning_events")]
        outbox.mark_images(db, keys, "uploaded_at", "2026-11-25T09:01:00.000Z")
        outbox.mark_delivered(db, outbox.pending_facts(db, 1000))

    await store.run(acknowledge)
    clock.advance(30)
    await data_of(await client.post(f"/api/session/{first}/end"))
    # Ending it cards its pages in the background (the fake model's card): wait for that.
    await services_of(client).card_worker.idle()
    [card] = await store.run(lambda db: [r["id"] for r in db.query("SELECT id FROM cards")])
    review = services_of(client).review
    clock.advance(30)
    await review.grade(card, "good", 4200)

    def acknowledge_cards(db: sqlite_utils.Database) -> None:
        kinds = {"card", "review_log"}
        outbox.mark_delivered(db, [f for f in outbox.pending_facts(db, 1000) if f.kind in kinds])

    await store.run(acknowledge_cards)
    clock.advance(30)
    await review.grade(card, "again")
    clock.advance(60)
    refused = await client.post("/api/help-count", json={"sessionId": first})
    assert refused.status == 409  # nothing is written for an ended session

    second = await start_session(client)
    clock.advance(10)
    await upload(client, jpeg(800, 600, seed=3), second)
    clock.advance(15)
    await upload(client, frame_again := jpeg(640, 480, seed=1), second)  # same bytes, one file
    assert frame_again
    await data_of(await client.post("/api/help-count", json={"sessionId": second}), 201)
    clock.advance(5)

    def cloze_card(db: sqlite_utils.Database) -> str | None:
        [page] = db.query(
            "SELECT id FROM learning_events WHERE session_id = ? ORDER BY captured_at LIMIT 1",
            [second],
        )
        draft = CardDraft(page["id"], "Biology", None, "cloze", "Mitosis makes two ___.", "nuclei")
        return records.insert_card(db, second, draft, "on-device", clock.now())

    cloze = await store.run(cloze_card)
    assert cloze is not None
    await review.grade(cloze, "easy")  # straight to review: its step NULL

    def reject(db: sqlite_utils.Database) -> tuple[str, str]:
        [fact] = [f for f in outbox.pending_facts(db, 1000) if f.kind == "help_request"]
        outbox.mark_rejected(db, fact, "invalid_item")
        return fact.kind, fact.fact_id

    rejected = await store.run(reject)
    wav(settings.data_dir / RECORDING.format(session=first), b"\x01\x02" * 1600)
    assert frame["imageKey"]
    return Studied(client, settings, clock, first, second, rejected)


def export_now(studied: Studied, out: Path, **options: Any) -> Manifest:
    """Export the fixture's data dir through a connection of its own, as the CLI does."""
    settings = studied.settings
    db = open_database(settings.database_path)
    try:
        return export_archive(
            db,
            out,
            originals=originals(settings),
            recordings=settings.data_dir / "recordings",
            now=studied.clock.now(),
            zone=settings.zone,
            app_version="test",
            **options,
        )
    finally:
        db.close()


def jsonl(archive: Path, kind: str) -> list[dict[str, Any]]:
    """The rows of one JSON Lines file of an archive."""
    with zipfile.ZipFile(archive) as zf:
        return [json.loads(line) for line in zf.read(f"data/{kind}.jsonl").splitlines()]


def manifest_of(archive: Path) -> dict[str, Any]:
    """The archive's manifest, as JSON."""
    with zipfile.ZipFile(archive) as zf:
        found: dict[str, Any] = json.loads(zf.read("manifest.json"))
        return found


@pytest.fixture
def read_db() -> Iterator[Any]:
    """Open databases read by column name; all closed at the end."""
    opened: list[sqlite3.Connection] = []

    def open_(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        opened.append(conn)
        return conn

    yield open_
    for conn in opened:
        conn.close()


#: Every table of a data dir's database, as a comparable list of dicts (topic ids by name).
TABLES = {
    "users": "SELECT * FROM users ORDER BY id",
    "session_days": "SELECT * FROM session_days ORDER BY id",
    "sessions": "SELECT * FROM sessions ORDER BY id",
    "learning_events": """SELECT e.*, t.name AS topic_name, st.name AS subtopic_name
        FROM learning_events e LEFT JOIN topics t ON t.id = e.topic_id
        LEFT JOIN subtopics st ON st.id = e.subtopic_id ORDER BY e.id""",
    "topic_segments": """SELECT g.*, t.name AS topic_name FROM topic_segments g
        JOIN topics t ON t.id = g.topic_id ORDER BY g.id""",
    "bookmarks": "SELECT * FROM bookmarks ORDER BY id",
    "help_requests": "SELECT * FROM help_requests ORDER BY id",
    "cards": """SELECT c.*, t.name AS topic_name, st.name AS subtopic_name
        FROM cards c JOIN topics t ON t.id = c.topic_id
        LEFT JOIN subtopics st ON st.id = c.subtopic_id ORDER BY c.id""",
    "review_logs": "SELECT * FROM review_logs ORDER BY id",
    "carded_pages": "SELECT * FROM carded_pages ORDER BY learning_event_id",
    "sync_outbox": "SELECT * FROM sync_outbox ORDER BY kind, fact_id",
    "sync_images": "SELECT * FROM sync_images ORDER BY image_key",
}
#: Local lookup ids, not facts: compared by the names above.
LOOKUP_IDS = {"topic_id", "subtopic_id"}


def table_rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    """One table's rows by column name, lookup ids left out."""
    return [
        {k: row[k] for k in row.keys() if k not in LOOKUP_IDS}  # noqa: SIM118 - sqlite3.Row
        for row in conn.execute(TABLES[table])
    ]


def sessions_in(database: Path) -> set[str]:
    """The session ids of a database."""
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    try:
        return {r["id"] for r in conn.execute("SELECT id FROM sessions")}
    finally:
        conn.close()


def forget_service(studied: Studied, *, linked: bool = False) -> ForgetService:
    """The daemon's own forget service, linked to a cloud or not."""
    s = services_of(studied.client)
    return ForgetService(
        s.store,
        studied.clock,
        s.zone,
        originals=s.originals,
        recordings=studied.settings.recordings_path,
        linked=lambda: linked,
        sessions=s.sessions,
    )
