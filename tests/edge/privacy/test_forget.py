"""Forget: a session goes with everything recorded in it; nothing else goes; the cloud is told."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from pydantic import ValidationError

from edge.errors import SessionNotFound
from edge.memory import records
from edge.memory.port import CardDraft
from edge.privacy.forget import (
    DateInFuture,
    ForgetScope,
    carry_out,
    plan_forget,
    recordings_covered,
)
from edge.store import open_database
from edge.sync import outbox
from shared.sync import SYNC_ITEM, TombstoneItem
from tests.edge.privacy.conftest import (
    RECORDING,
    TABLES,
    Studied,
    forget_service,
    originals,
    table_rows,
    wav,
)
from tests.fakes.images import jpeg
from tests.support import data_of, error_of, form, services_of, start_session, upload

#: Each fact table and the outbox kind its rows are sent as.
FACTS = {
    "sessions": "session",
    "learning_events": "learning_event",
    "topic_segments": "topic_segment",
    "bookmarks": "bookmark",
    "help_requests": "help_request",
    "cards": "card",
    "review_logs": "review_log",
}


def snapshot(studied: Studied) -> dict[str, list[dict[str, Any]]]:
    """Every table of the data dir, by column name."""
    conn = sqlite3.connect(studied.settings.database_path)
    conn.row_factory = sqlite3.Row
    try:
        return {table: table_rows(conn, table) for table in TABLES}
    finally:
        conn.close()


def ids_of_session(before: dict[str, list[dict[str, Any]]], session_id: str) -> set[str]:
    """The ids of a session and of every fact recorded in it."""
    found = {session_id}
    for table in ("learning_events", "topic_segments", "bookmarks", "help_requests", "cards"):
        found |= {row["id"] for row in before[table] if row["session_id"] == session_id}
    return found | {row["id"] for row in before["review_logs"] if row["card_id"] in found}


def image_files(studied: Studied) -> set[str]:
    """The originals on disk, by key."""
    root = originals(studied.settings).root
    return {path.name for path in root.rglob("*") if path.is_file()}


async def test_forgetting_a_session_deletes_its_facts_and_nothing_else(studied: Studied) -> None:
    """Each table keeps exactly the rows of the other session."""
    before = snapshot(studied)
    gone = ids_of_session(before, studied.synced_session)

    await forget_service(studied).forget(ForgetScope(session_id=studied.synced_session))

    after = snapshot(studied)
    for table in FACTS:
        assert after[table] == [row for row in before[table] if row["id"] not in gone], table
    assert {row["id"] for row in after["sessions"]} == {studied.running_session}


async def test_forgetting_a_session_leaves_a_tombstone_for_each_of_its_facts(
    studied: Studied,
) -> None:
    """Every forgotten fact's outbox row is a tombstone one revision past its last.

    Linked: its second grade, never acknowledged, may be in flight and is buried too.
    """
    before = snapshot(studied)
    gone = ids_of_session(before, studied.synced_session)
    revisions = {row["fact_id"]: row["revision"] for row in before["sync_outbox"]}

    await forget_service(studied, linked=True).forget(
        ForgetScope(session_id=studied.synced_session)
    )

    buried = {row["fact_id"]: row for row in snapshot(studied)["sync_outbox"] if row["deleted_at"]}
    facts = {fact_id: row for fact_id, row in buried.items() if row["kind"] != "image"}
    assert set(facts) == gone
    assert all(row["revision"] == revisions[fact_id] + 1 for fact_id, row in facts.items())


async def test_an_original_no_kept_frame_shows_is_deleted_and_buried(studied: Studied) -> None:
    """The first session's second frame goes; its first (sent again later) stays on disk."""
    before = snapshot(studied)
    first = [e for e in before["learning_events"] if e["session_id"] == studied.synced_session]
    kept = {
        e["image_key"]
        for e in before["learning_events"]
        if e["session_id"] != studied.synced_session
    }
    only_first = {e["image_key"] for e in first} - kept
    assert len(only_first) == 1
    assert kept & {e["image_key"] for e in first}

    report = await forget_service(studied).forget(ForgetScope(session_id=studied.synced_session))

    assert image_files(studied) == kept
    assert report.originals == 1
    images = [r for r in snapshot(studied)["sync_outbox"] if r["kind"] == "image"]
    assert [r["fact_id"] for r in images] == [key.split(".")[0] for key in only_first]
    assert all(r["image_key"] not in only_first for r in snapshot(studied)["sync_images"])


async def test_the_session_recordings_are_deleted(studied: Studied) -> None:
    """The forgotten session's recording goes; another session's stays."""
    path = studied.settings.data_dir / RECORDING.format(session=studied.synced_session)
    other = studied.settings.data_dir / RECORDING.format(session=studied.running_session)
    wav(other, b"\x00\x01" * 160)

    report = await forget_service(studied).forget(ForgetScope(session_id=studied.synced_session))

    assert (path.exists(), other.exists(), report.recordings) == (False, True, 1)


async def test_a_preview_counts_what_forget_deletes_and_deletes_nothing(studied: Studied) -> None:
    """The preview's counts are the forget's, and the store is unchanged after it."""
    scope = ForgetScope(session_id=studied.synced_session)
    before = snapshot(studied)

    preview = await forget_service(studied).preview(scope)
    unchanged = snapshot(studied)
    done = await forget_service(studied).forget(scope)

    assert unchanged == before
    assert preview.deleted is False
    assert done.deleted is True
    assert preview.model_dump(exclude={"deleted"}) == done.model_dump(exclude={"deleted"})
    assert (preview.sessions, preview.learning_events, preview.bookmarks) == (1, 2, 1)
    # Its card with its two grades, which go by cascade.
    assert (preview.cards, preview.review_logs) == (1, 2)
    assert preview.bytes > 0


async def test_a_card_of_a_kept_session_made_from_a_forgotten_page_is_counted(
    studied: Studied,
) -> None:
    """Its page goes, so it goes by cascade: the preview says so, and it is gone after."""

    def card_of_first_page(db: sqlite_utils.Database) -> str:
        [page] = db.query(
            "SELECT id FROM learning_events WHERE session_id = ? ORDER BY captured_at LIMIT 1",
            [studied.synced_session],
        )
        draft = CardDraft(page["id"], "Biology", None, "qa", "How many phases?", "Four")
        made = records.insert_card(
            db, studied.running_session, draft, "on-device", studied.clock.now()
        )
        assert made is not None
        return made

    card_id = await services_of(studied.client).store.run(card_of_first_page)
    scope = ForgetScope(session_id=studied.synced_session)

    preview = await forget_service(studied).preview(scope)
    await forget_service(studied).forget(scope)

    assert (preview.cards, preview.review_logs) == (2, 2)
    assert card_id not in {row["id"] for row in snapshot(studied)["cards"]}
    assert len(snapshot(studied)["cards"]) == 1  # the running session's own cloze card


async def test_forgetting_everything_leaves_no_fact_file_or_recording(studied: Studied) -> None:
    """After `all`, every fact table, the originals folder and the recordings are empty."""
    await forget_service(studied).forget(ForgetScope(all=True))

    after = snapshot(studied)
    assert {table: after[table] for table in (*FACTS, "sync_images")} == {
        table: [] for table in (*FACTS, "sync_images")
    }
    assert image_files(studied) == set()
    assert list(studied.settings.recordings_path.iterdir()) == []


async def test_unlinked_facts_the_cloud_never_had_leave_no_tombstone(studied: Studied) -> None:
    """Not linked: the delivered session leaves tombstones, the never-sent one none."""
    before = snapshot(studied)
    never_sent = ids_of_session(before, studied.running_session)
    delivered = {row["fact_id"] for row in before["sync_outbox"] if row["delivered_revision"]}
    synced = ids_of_session(before, studied.synced_session)

    await forget_service(studied, linked=False).forget(ForgetScope(all=True))

    after = snapshot(studied)["sync_outbox"]
    buried = {row["fact_id"] for row in after if row["deleted_at"] and row["kind"] != "image"}
    assert buried & never_sent == set()
    # The first session's second grade never reached the cloud: it needs no tombstone either.
    assert buried == synced & delivered
    assert synced - delivered, "the fixture left part of the first session unsent"


async def test_linked_every_forgotten_fact_leaves_a_tombstone(studied: Studied) -> None:
    """Linked, a fact may be in flight to the cloud: it gets a tombstone even if never acked."""
    before = snapshot(studied)
    every = ids_of_session(before, studied.running_session) | ids_of_session(
        before, studied.synced_session
    )

    await forget_service(studied, linked=True).forget(ForgetScope(all=True))

    buried = {row["fact_id"] for row in snapshot(studied)["sync_outbox"] if row["deleted_at"]}
    assert every <= buried


async def test_tombstones_are_sent_first_and_originals_after_facts(studied: Studied) -> None:
    """The outbox reads deletions before facts, originals' last; each a valid wire item."""
    store = services_of(studied.client).store
    scope = ForgetScope(session_id=studied.synced_session)
    await forget_service(studied, linked=True).forget(scope)

    pending = await store.run(lambda db: outbox.pending_facts(db, 1000))

    items = [SYNC_ITEM.validate_python(p.item) for p in pending]
    kinds = [
        item.payload.fact_kind if isinstance(item, TombstoneItem) else "live" for item in items
    ]
    first_live = kinds.index("live")
    assert "image" not in kinds[first_live:]
    assert "live" not in kinds[:first_live]
    assert kinds[first_live - 1] == "image"
    assert all(p.kind != "tombstone" for p in pending)  # keyed by the forgotten fact's kind


async def test_a_delivered_tombstone_is_no_longer_pending(studied: Studied) -> None:
    """Acknowledged by the cloud, the deletions leave the backlog."""
    store = services_of(studied.client).store
    forget = forget_service(studied, linked=True)
    await forget.forget(ForgetScope(session_id=studied.synced_session))
    waiting = await forget.pending_deletions()

    def acknowledge(db: sqlite_utils.Database) -> None:
        tombstones = [p for p in outbox.pending_facts(db, 1000) if p.item["kind"] == "tombstone"]
        outbox.mark_delivered(db, tombstones)

    await store.run(acknowledge)

    assert waiting > 0
    assert await forget.pending_deletions() == 0


async def test_before_a_day_forgets_the_sessions_of_earlier_days_only(studied: Studied) -> None:
    """Sessions of 25 November go with `before` the 26th; the 26th's stays."""
    studied.clock.advance(24 * 3600)
    later = await start_session(studied.client)
    await upload(studied.client, jpeg(640, 480, seed=9), later)

    report = await forget_service(studied).forget(ForgetScope(before=date(2026, 11, 26)))

    assert report.sessions == 2
    assert {row["id"] for row in snapshot(studied)["sessions"]} == {later}
    assert [row["local_date"] for row in snapshot(studied)["session_days"]] == ["2026-11-26"]


async def test_before_today_keeps_today(studied: Studied) -> None:
    """`before` is exclusive: today's sessions are kept."""
    report = await forget_service(studied).forget(ForgetScope(before=date(2026, 11, 25)))

    assert report.sessions == 0
    assert len(snapshot(studied)["sessions"]) == 2


async def test_a_date_in_the_future_is_refused(studied: Studied) -> None:
    """Tomorrow would mean today as well: the student is told to forget everything instead."""
    before = snapshot(studied)

    with pytest.raises(DateInFuture):
        await forget_service(studied).forget(ForgetScope(before=date(2026, 11, 26)))

    assert snapshot(studied) == before


async def test_an_unknown_session_is_not_found(studied: Studied) -> None:
    """A well-formed id no session has: 404, nothing deleted."""
    with pytest.raises(SessionNotFound):
        await forget_service(studied).forget(
            ForgetScope(session_id="00000000-0000-4000-8000-000000000000")
        )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"all": False},
        {"all": True, "before": "2026-11-01"},
        {"sessionId": "00000000-0000-4000-8000-000000000000", "before": "2026-11-01"},
        {"sessionId": "not-a-uuid"},
        {"sessionId": "00000000-0000-4000-8000-00000000000A"},
        {"before": "2026-02-30"},
        {"all": "yes"},
        {"all": 1},
        {"all": True, "befor": "2026-11-01"},
    ],
)
def test_a_scope_must_name_exactly_one_well_formed_selection(body: dict[str, Any]) -> None:
    """None, two, a malformed one, or an unknown field: refused before anything is read."""
    with pytest.raises(ValidationError):
        ForgetScope.model_validate(body)


async def test_a_running_session_forgotten_refuses_its_next_frame(studied: Studied) -> None:
    """Forgotten through the daemon, the running session stops: its next frame is 404."""
    running = studied.running_session
    await forget_service(studied).forget(ForgetScope(session_id=running))

    answer = await studied.client.post(
        "/api/upload-and-analyze", data=_frame(), headers={"X-Session-Id": running}
    )

    assert (await error_of(answer, 404))["code"] == "session_not_found"
    assert not services_of(studied.client).sessions.is_active(running)


def forget_elsewhere(studied: Studied, session_id: str) -> None:
    """Delete a session through a connection of its own, as the CLI does beside the daemon."""
    s = services_of(studied.client)
    db = open_database(studied.settings.database_path)
    try:
        plan = plan_forget(
            db,
            ForgetScope(session_id=session_id),
            today=date(2026, 11, 25),
            zone=s.zone,
            recordings=s.settings.recordings_path,
        )
        carry_out(db, plan, s.originals, linked=False)
    finally:
        db.close()


async def test_a_session_forgotten_by_another_process_refuses_its_next_frame(
    studied: Studied,
) -> None:
    """The CLI deletes the rows under a running daemon: the next frame of it is refused."""
    running = studied.running_session
    forget_elsewhere(studied, running)

    answer = await studied.client.post(
        "/api/upload-and-analyze", data=_frame(), headers={"X-Session-Id": running}
    )

    assert (await error_of(answer, 404))["code"] == "session_not_found"
    assert not services_of(studied.client).sessions.is_active(running)
    started = await data_of(await studied.client.post("/api/session/start"), 201)
    assert started["sessionId"] != running


async def test_ending_a_session_forgotten_by_another_process_is_not_found(
    studied: Studied,
) -> None:
    """The phone ends a session the CLI just forgot: 404, and it runs no longer."""
    running = studied.running_session
    forget_elsewhere(studied, running)

    answer = await studied.client.post(f"/api/session/{running}/end")

    assert (await error_of(answer, 404))["code"] == "session_not_found"
    assert not services_of(studied.client).sessions.is_active(running)
    assert {row["id"] for row in snapshot(studied)["sessions"]} == {studied.synced_session}


async def test_a_kept_bookmark_of_a_forgotten_frame_loses_only_its_link(studied: Studied) -> None:
    """A bookmark in the kept session that marks a forgotten frame stays, unlinked."""
    before = snapshot(studied)
    frame = next(
        e["id"] for e in before["learning_events"] if e["session_id"] == studied.synced_session
    )
    db = open_database(studied.settings.database_path)
    try:
        db.execute(
            "INSERT INTO bookmarks (id, session_id, learning_event_id, note, created_at)"
            " VALUES ('b0000000-0000-4000-8000-000000000000', ?, ?, '', ?)",
            [studied.running_session, frame, "2026-11-25T09:10:00.000Z"],
        )
        db.conn.commit()
    finally:
        db.close()

    await forget_service(studied).forget(ForgetScope(session_id=studied.synced_session))

    [kept] = [b for b in snapshot(studied)["bookmarks"] if b["id"].startswith("b0000000")]
    assert kept["learning_event_id"] is None


def _frame() -> Any:
    return form(jpeg(640, 480, seed=7))


def test_recordings_of_a_missing_folder_are_none(tmp_path: Path) -> None:
    """No recordings folder yet: nothing to delete, no error."""
    assert recordings_covered(tmp_path / "none", set(), every=True, made_before=None) == []
