"""`import`: a round trip gives the same tables and totals, and the outbox only the unsynced."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import fsrs
import pytest
import sqlite_utils

from edge import analytics
from edge.memory import records
from edge.memory.making import CardMaking, recent_uncarded_sessions
from edge.memory.port import CardDraft, Page
from edge.memory.scheduler import Scheduler
from edge.privacy.errors import (
    ArchiveTooLarge,
    CorruptArchive,
    DataDirNotEmpty,
    NotAnExport,
    PartialArchive,
    UnknownArchiveVersion,
    UnsafeArchive,
)
from edge.privacy.forget import ForgetScope
from edge.privacy.restore import restore_archive
from edge.sessions.stats import session_stats
from edge.store import Store, open_database
from edge.sync import outbox
from tests.edge.privacy.conftest import (
    RECORDING,
    TABLES,
    Studied,
    export_now,
    forget_service,
    originals,
    table_rows,
)
from tests.support import services_of

ReadDb = Callable[[Path], Any]


@pytest.fixture
def exported(studied: Studied, tmp_path: Path) -> Path:
    """A full export of the fixture's data dir."""
    out = tmp_path / "export.zip"
    export_now(studied, out)
    return out


def rewrite(source: Path, target: Path, **changes: bytes | None) -> Path:
    """A copy of an archive with entries replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            if info.filename not in changes:
                z.writestr(info, zin.read(info))
        for name, data in changes.items():
            if data is not None:
                z.writestr(name, data)
    return target


def with_manifest(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of an archive whose manifest `change` edited."""
    with zipfile.ZipFile(source) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    change(manifest)
    return rewrite(source, target, **{"manifest.json": json.dumps(manifest).encode()})


# --- the round trip --------------------------------------------------------------------------


def test_every_table_comes_back_equal(
    studied: Studied, exported: Path, tmp_path: Path, read_db: ReadDb
) -> None:
    """Same ids, same columns, in every table; the outbox and image state included."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    old, new = read_db(studied.settings.database_path), read_db(new_dir / "studylens.db")
    for table in TABLES:
        rows = table_rows(old, table)
        assert rows, table
        assert table_rows(new, table) == rows, table
    # Phones pair with the new computer anew: their tokens never left the old one.
    assert new.execute("SELECT count(*) AS n FROM devices").fetchone()["n"] == 0


def test_an_archive_from_before_confidence_was_kept_restores_with_null(
    exported: Path, tmp_path: Path, read_db: ReadDb
) -> None:
    """Event lines without `confidence` (older exports) import, their confidence NULL."""
    with zipfile.ZipFile(exported) as zf:
        lines = [json.loads(line) for line in zf.read("data/learning_events.jsonl").splitlines()]
    assert any(line["confidence"] is not None for line in lines)  # the fixture kept one
    older = b"".join(
        json.dumps({k: v for k, v in line.items() if k != "confidence"}).encode() + b"\n"
        for line in lines
    )
    archive = rewrite(exported, tmp_path / "older.zip", **{"data/learning_events.jsonl": older})
    restore_archive(archive, tmp_path / "new")
    db = read_db(tmp_path / "new" / "studylens.db")
    kept = [row["confidence"] for row in db.execute("SELECT confidence FROM learning_events")]
    assert kept == [None] * len(lines)


def test_the_totals_are_the_same(studied: Studied, exported: Path, tmp_path: Path) -> None:
    """Today, this week, the recent sessions and each session's stats, as the daemon reads them."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    now, zone = studied.clock.now(), studied.settings.zone
    old_db = open_database(studied.settings.database_path)
    new_db = open_database(new_dir / "studylens.db")
    try:
        for db in (old_db, new_db):
            assert analytics.today_stats(db, now, zone).total_seconds > 0
        for read in (analytics.today_stats, analytics.week_stats):
            assert read(new_db, now, zone) == read(old_db, now, zone)
        assert analytics.recent_sessions(new_db, now, zone) == analytics.recent_sessions(
            old_db, now, zone
        )
        for session_id in (studied.synced_session, studied.running_session):
            assert session_stats(new_db, session_id, now, zone) == session_stats(
                old_db, session_id, now, zone
            )
    finally:
        old_db.close()
        new_db.close()


def test_the_outbox_holds_exactly_the_unsynced_facts(
    studied: Studied, exported: Path, tmp_path: Path
) -> None:
    """What the cloud acknowledged is not queued again; the rest is, at the same revision."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    old_db = open_database(studied.settings.database_path)
    new_db = open_database(new_dir / "studylens.db")
    try:
        old_pending = outbox.pending_facts(old_db, 10_000)
        new_pending = outbox.pending_facts(new_db, 10_000)
        assert new_pending == old_pending
        assert outbox.backlog(new_db) == outbox.backlog(old_db)
        assert outbox.images_to_upload(new_db, 100) == outbox.images_to_upload(old_db, 100)
        [synced] = old_db.query(
            "SELECT revision, delivered_revision FROM sync_outbox WHERE fact_id = ?",
            [studied.synced_session],
        )
        delivered = {
            r["fact_id"]
            for r in old_db.query("SELECT fact_id FROM sync_outbox WHERE revision = 1")
            if r["fact_id"] not in {f.fact_id for f in old_pending}
        }
    finally:
        old_db.close()
        new_db.close()
    pending = {f.fact_id: f for f in new_pending}
    # The cloud holds an earlier revision of the first session; its end is what it lacks.
    assert synced["delivered_revision"] >= 1
    assert pending[studied.synced_session].revision == synced["revision"]
    assert synced["revision"] > synced["delivered_revision"]
    assert studied.running_session in pending
    assert studied.rejected_fact[1] not in pending  # refused once, parked as before
    assert delivered, "the fixture acknowledged some facts"
    assert not delivered & set(pending)


def test_the_cards_keep_their_schedule_and_the_due_queue_is_the_same(
    studied: Studied, exported: Path, tmp_path: Path
) -> None:
    """The same cards due at each moment, each with its FSRS state; a grade schedules alike."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    # FSRS fuzzes review intervals at random: off, so one state gives one next due time.
    unfuzzed = Scheduler(fsrs.Scheduler(enable_fuzzing=False))
    now = studied.clock.now()
    old_db = open_database(studied.settings.database_path)
    new_db = open_database(new_dir / "studylens.db")
    try:
        for later in (timedelta(0), timedelta(minutes=5), timedelta(days=30)):
            due = records.due_cards(old_db, now + later, 100)
            assert records.due_cards(new_db, now + later, 100) == due
        cards = records.list_cards(old_db, None, 100)
        assert len(cards) == 2
        assert {c.state for c in cards} == {"learning", "review"}
        for card in cards:
            memory = records.card_memory(old_db, card.card_id)
            assert memory is not None
            assert records.card_memory(new_db, card.card_id) == memory
            assert records.get_card(new_db, card.card_id) == card
            graded = unfuzzed.review(memory, "good", now + timedelta(hours=1))
            restored = records.card_memory(new_db, card.card_id)
            assert restored is not None
            assert unfuzzed.review(restored, "good", now + timedelta(hours=1)) == graded
    finally:
        old_db.close()
        new_db.close()


def test_the_cards_outbox_revisions_come_back(
    studied: Studied, exported: Path, tmp_path: Path, read_db: ReadDb
) -> None:
    """The graded card is pending one revision past what the cloud holds; the first grade is not."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    old, new = read_db(studied.settings.database_path), read_db(new_dir / "studylens.db")
    sql = """SELECT kind, fact_id, revision, delivered_revision FROM sync_outbox
             WHERE kind IN ('card', 'review_log') ORDER BY kind, fact_id"""
    rows = [dict(row) for row in old.execute(sql)]
    assert [dict(row) for row in new.execute(sql)] == rows
    revisions = {(r["revision"], r["delivered_revision"]) for r in rows if r["kind"] == "card"}
    assert revisions == {(3, 2), (2, 0)}  # made, graded, acked, graded; the cloze one unsent
    grades = sorted(
        (r["revision"], r["delivered_revision"]) for r in rows if r["kind"] == "review_log"
    )
    assert grades == [(1, 0), (1, 0), (1, 1)]


async def test_an_imported_session_is_not_carded_again(
    studied: Studied, exported: Path, tmp_path: Path
) -> None:
    """Its pages are known as carded: a pass over it (a catch-up, `cards make`) asks no maker."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    since = studied.clock.now() - timedelta(days=2)

    def carding(db: sqlite_utils.Database) -> tuple[set[str], list[str]]:
        carded = records.carded_event_ids(db, studied.synced_session)
        return carded, recent_uncarded_sessions(db, since)

    old = await services_of(studied.client).store.run(carding)
    store = Store(new_dir / "studylens.db")
    await store.open()
    try:
        assert old[0], "the fixture's first session was carded"
        assert await store.run(carding) == old
        making = CardMaking(store, NeverAsked(), studied.clock, per_session=8)
        made = await making.make(studied.synced_session)
    finally:
        await store.close()
    assert (made.pages_carded, made.cards) == (0, [])


class NeverAsked:
    """A card maker that fails the test if any page reaches it."""

    name = "never"

    async def make(self, pages: Sequence[Page], limit: int) -> list[CardDraft]:
        """Fail: every page of the session was carded already."""
        raise AssertionError(f"asked to card {len(pages)} page(s) again")

    async def close(self) -> None:
        """Nothing to release."""


async def test_a_deleted_cards_tombstone_comes_along(studied: Studied, tmp_path: Path) -> None:
    """The card and its grades deleted, not yet told to the cloud: the new computer tells it."""
    s = services_of(studied.client)
    cards = (await s.review.cards()).cards
    [card] = [c for c in cards if c.session_id == studied.synced_session]  # graded twice
    await s.review.delete(card.card_id)
    out = tmp_path / "after-delete.zip"
    export_now(studied, out)

    restore_archive(out, tmp_path / "new")

    sql = """SELECT kind, fact_id, revision, delivered_revision, deleted_at FROM sync_outbox
             WHERE deleted_at IS NOT NULL ORDER BY kind, fact_id"""
    old = await s.store.run(lambda db: [dict(row) for row in db.execute(sql)])
    db = open_database(tmp_path / "new" / "studylens.db")
    try:
        new = [dict(row) for row in db.execute(sql)]
        logs = "SELECT count(*) AS n FROM review_logs WHERE card_id = ?"
        assert db.execute(logs, [card.card_id]).fetchone()["n"] == 0
    finally:
        db.close()
    assert {(r["kind"], r["fact_id"]) for r in old} >= {("card", card.card_id)}
    # Of its two grades the cloud acknowledged one: unlinked, the other needs no tombstone.
    assert [r["kind"] for r in old].count("review_log") == 1
    assert new == old


def test_originals_and_recordings_come_back_byte_for_byte(
    studied: Studied, exported: Path, tmp_path: Path
) -> None:
    """Each original under its key with its own SHA-256, each recording; all 0600."""
    new_dir = tmp_path / "new-computer"
    restore_archive(exported, new_dir)
    old, new = originals(studied.settings), originals(studied.settings.updated(data_dir=new_dir))
    db = open_database(studied.settings.database_path)
    try:
        keys = {r["image_key"] for r in db.query("SELECT image_key FROM learning_events")}
    finally:
        db.close()
    for key in keys:
        data = new.path_for(key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == key.split(".")[0]
        assert data == old.path_for(key).read_bytes()
        assert new.path_for(key).stat().st_mode & 0o777 == 0o600
    recording = RECORDING.format(session=studied.synced_session)
    assert (new_dir / recording).read_bytes() == (
        studied.settings.data_dir / recording
    ).read_bytes()
    assert new_dir.stat().st_mode & 0o777 == 0o700


def test_an_empty_existing_dir_is_fine(exported: Path, tmp_path: Path) -> None:
    """An empty folder (made by the student beforehand) takes the import."""
    new_dir = tmp_path / "empty"
    new_dir.mkdir()
    manifest = restore_archive(exported, new_dir)
    assert (new_dir / "studylens.db").is_file()
    assert manifest.counts["sessions"] == 2


# --- refused ---------------------------------------------------------------------------------


def test_a_non_empty_data_dir_is_refused(studied: Studied, exported: Path) -> None:
    """Import never merges: the old computer's own data dir is left as it was."""
    data_dir = studied.settings.data_dir
    before = sorted(p.name for p in data_dir.iterdir())
    with pytest.raises(DataDirNotEmpty, match="not empty"):
        restore_archive(exported, data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_a_path_leaving_the_dir_is_refused(exported: Path, tmp_path: Path) -> None:
    """`../` and absolute entries are refused before anything is written."""
    for i, name in enumerate(["../escaped.txt", "originals/../../escaped.txt", "/abs.txt"]):
        bad = rewrite(exported, tmp_path / f"bad{i}.zip", **{name: b"gotcha"})
        target = tmp_path / f"new{i}"
        with pytest.raises(UnsafeArchive):
            restore_archive(bad, target)
        assert not target.exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert not list(tmp_path.glob(".new*"))


def test_a_zip_of_someone_else_is_refused(tmp_path: Path, exported: Path) -> None:
    """No manifest, another format's manifest, or an entry no export has: not ours."""
    plain = tmp_path / "holiday.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("photo.txt", "sun")
    with pytest.raises(NotAnExport):
        restore_archive(plain, tmp_path / "a")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "someone-else", "formatVersion": 1}))
    with pytest.raises(NotAnExport):
        restore_archive(other, tmp_path / "b")
    extra = rewrite(exported, tmp_path / "extra.zip", **{"data/secrets.jsonl": b"{}\n"})
    with pytest.raises(NotAnExport, match="secrets"):
        restore_archive(extra, tmp_path / "c")
    assert not any((tmp_path / n).exists() for n in "abc")


def test_a_manifest_of_another_version_is_refused(exported: Path, tmp_path: Path) -> None:
    """A version this StudyLens does not know is refused by name, nothing written."""

    def future(manifest: dict[str, Any]) -> None:
        manifest["formatVersion"] = 2

    bad = with_manifest(exported, tmp_path / "v2.zip", future)
    with pytest.raises(UnknownArchiveVersion, match="version 2"):
        restore_archive(bad, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_truncated_or_damaged_zip_is_refused(exported: Path, tmp_path: Path) -> None:
    """Cut short, or one original's bytes flipped inside: refused, and nothing left behind."""
    data = exported.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptArchive):
        restore_archive(cut, tmp_path / "new")
    not_zip = tmp_path / "notes.zip"
    not_zip.write_bytes(b"just some text")
    with pytest.raises(CorruptArchive):
        restore_archive(not_zip, tmp_path / "new")

    with zipfile.ZipFile(exported) as zf:
        info = next(i for i in zf.infolist() if i.filename.startswith("originals/"))
    damaged = bytearray(data)
    at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 20
    damaged[at] ^= 0xFF
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(damaged))
    with pytest.raises(CorruptArchive):
        restore_archive(flipped, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert not (tmp_path / ".new.importing").exists()


def test_an_oversized_archive_is_refused(exported: Path, tmp_path: Path) -> None:
    """An archive that unpacks to more than the limit is refused before anything is written."""
    with zipfile.ZipFile(exported) as zf:
        total = sum(i.file_size for i in zf.infolist())
    with pytest.raises(ArchiveTooLarge, match="limit"):
        restore_archive(exported, tmp_path / "new", max_bytes=total - 1)
    assert not (tmp_path / "new").exists()
    restore_archive(exported, tmp_path / "new", max_bytes=total)


def test_rows_that_disagree_with_the_manifest_are_refused(exported: Path, tmp_path: Path) -> None:
    """A line missing, a line damaged, a file the manifest does not list: corrupt."""
    with zipfile.ZipFile(exported) as zf:
        sessions = zf.read("data/sessions.jsonl").splitlines(keepends=True)
        first_original = next(n for n in zf.namelist() if n.startswith("originals/"))
    short = rewrite(exported, tmp_path / "short.zip", **{"data/sessions.jsonl": sessions[0]})
    with pytest.raises(CorruptArchive, match="manifest says 2"):
        restore_archive(short, tmp_path / "a")
    garbled = rewrite(exported, tmp_path / "garbled.zip", **{"data/sessions.jsonl": b'{"id": 1}\n'})
    with pytest.raises(CorruptArchive, match=r"sessions\.jsonl line 1"):
        restore_archive(garbled, tmp_path / "b")
    swapped = rewrite(exported, tmp_path / "swapped.zip", **{first_original: b"other bytes"})
    with pytest.raises(CorruptArchive, match="bytes the manifest names"):
        restore_archive(swapped, tmp_path / "c")
    assert not any((tmp_path / n).exists() for n in "abc")


def test_an_archive_from_before_cards_were_exported_imports(
    studied: Studied, exported: Path, tmp_path: Path, read_db: ReadDb
) -> None:
    """No cards files, no counts, no card outbox rows: the rest comes back, no cards."""
    kinds = ("cards", "review_logs", "carded_pages")

    def older(manifest: dict[str, Any]) -> None:
        for kind in kinds:
            del manifest["counts"][kind]
        outbox = manifest["sync"]["outbox"]
        outbox[:] = [f for f in outbox if f["kind"] not in {"card", "review_log"}]

    archive = with_manifest(exported, tmp_path / "older.zip", older)
    archive = rewrite(archive, tmp_path / "oldest.zip", **{f"data/{k}.jsonl": None for k in kinds})
    with zipfile.ZipFile(archive) as zf:
        assert not {f"data/{k}.jsonl" for k in kinds} & set(zf.namelist())

    restore_archive(archive, tmp_path / "new")

    old, new = read_db(studied.settings.database_path), read_db(tmp_path / "new" / "studylens.db")
    for table in ("sessions", "learning_events", "bookmarks", "help_requests"):
        assert table_rows(new, table) == table_rows(old, table), table
    for table in kinds:
        assert table_rows(new, table) == [], table


def card_lines(archive: Path) -> list[dict[str, Any]]:
    """The card lines of an archive."""
    with zipfile.ZipFile(archive) as zf:
        return [json.loads(line) for line in zf.read("data/cards.jsonl").splitlines()]


def lines_of(rows: list[dict[str, Any]]) -> bytes:
    """JSON Lines of these rows."""
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"sessionId": "00000000-0000-4000-8000-000000000000"}, "FOREIGN KEY"),
        ({"learningEventId": "00000000-0000-4000-8000-000000000000"}, "FOREIGN KEY"),
        ({"question": "?!"}, "CHECK constraint"),  # nothing left once folded
    ],
)
def test_a_card_that_does_not_fit_is_refused(
    exported: Path, tmp_path: Path, change: dict[str, str], says: str
) -> None:
    """An unknown session or page, a question that folds to nothing: corrupt, nothing written."""
    cards = card_lines(exported)
    cards[0].update(change)
    bad = rewrite(exported, tmp_path / "bad.zip", **{"data/cards.jsonl": lines_of(cards)})

    with pytest.raises(CorruptArchive, match=rf"data/cards\.jsonl line 1 .*{says}"):
        restore_archive(bad, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert not (tmp_path / ".new.importing").exists()


def test_two_cards_asking_the_same_question_are_refused(exported: Path, tmp_path: Path) -> None:
    """The second of two questions alike once folded (case, punctuation): corrupt."""
    cards = card_lines(exported)
    cards[1]["question"] = cards[0]["question"].upper() + "!!"
    bad = rewrite(exported, tmp_path / "bad.zip", **{"data/cards.jsonl": lines_of(cards)})

    with pytest.raises(CorruptArchive, match=r"data/cards\.jsonl line 2 .*UNIQUE"):
        restore_archive(bad, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_grade_or_state_of_no_known_name_is_refused(exported: Path, tmp_path: Path) -> None:
    """`rating: "perfect"`, `state: "new"`: corrupt at that line and field, nothing written."""
    with zipfile.ZipFile(exported) as zf:
        logs = [json.loads(line) for line in zf.read("data/review_logs.jsonl").splitlines()]
    logs[0]["rating"] = "perfect"
    bad = rewrite(exported, tmp_path / "bad.zip", **{"data/review_logs.jsonl": lines_of(logs)})
    with pytest.raises(CorruptArchive, match=r"review_logs\.jsonl line 1: rating"):
        restore_archive(bad, tmp_path / "a")
    cards = card_lines(exported)
    cards[1]["state"] = "new"
    bad = rewrite(exported, tmp_path / "bad2.zip", **{"data/cards.jsonl": lines_of(cards)})
    with pytest.raises(CorruptArchive, match=r"cards\.jsonl line 2: state"):
        restore_archive(bad, tmp_path / "b")
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


async def test_a_partial_export_is_refused(studied: Studied, tmp_path: Path) -> None:
    """An export made with --since cannot become a data dir: it lacks the earlier facts."""
    partial = tmp_path / "since.zip"
    export_now(studied, partial, since=studied.clock.now().date())
    with pytest.raises(PartialArchive, match="--since"):
        restore_archive(partial, tmp_path / "new")
    assert not (tmp_path / "new").exists()


# --- deletions on their way to the cloud ----------------------------------------------------


async def test_tombstones_still_pending_come_along(studied: Studied, tmp_path: Path) -> None:
    """Forgotten but not yet told to the cloud: the new computer tells it."""
    s = services_of(studied.client)
    scope = ForgetScope(session_id=studied.synced_session)
    await forget_service(studied, linked=True).forget(scope)
    out = tmp_path / "after-forget.zip"
    export_now(studied, out)
    old = await s.store.run(lambda db: outbox.pending_facts(db, 1000))

    restore_archive(out, tmp_path / "new")

    db = open_database(tmp_path / "new" / "studylens.db")
    try:
        new = outbox.pending_facts(db, 1000)
    finally:
        db.close()

    def buried(pending: list[outbox.PendingFact]) -> list[dict[str, Any]]:
        return sorted((p.item for p in pending if p.item["kind"] == "tombstone"), key=str)

    assert buried(old)
    assert buried(new) == buried(old)


def test_a_tombstone_of_a_fact_the_archive_holds_is_refused(
    studied: Studied, exported: Path, tmp_path: Path
) -> None:
    """The manifest says a fact was forgotten, a data file still has it: corrupt."""

    def bury(manifest: dict[str, Any]) -> None:
        [entry] = [e for e in manifest["sync"]["outbox"] if e["id"] == studied.synced_session]
        entry["deletedAt"] = "2026-11-25T10:00:00.000Z"

    damaged = with_manifest(exported, tmp_path / "buried.zip", bury)

    with pytest.raises(CorruptArchive, match="tombstone"):
        restore_archive(damaged, tmp_path / "new")
