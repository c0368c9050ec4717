"""The outbox: every fact write queues the fact, read back as valid wire items."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.frames.originals import OriginalStore
from edge.memory import records, review
from edge.memory.port import CardDraft
from edge.memory.scheduler import Scheduler
from edge.privacy import forget
from edge.privacy.forget import ForgetScope
from edge.sync import outbox
from shared.sync import SYNC_ITEM
from tests.edge.memory.conftest import MITOSIS, STARTED, add_session
from tests.fakes.images import jpeg
from tests.support import ZONE, AppClient, FakeClock, services_of, start_session, track, upload


async def pending(client: AppClient) -> list[outbox.PendingFact]:
    """Every pending fact."""
    return await services_of(client).store.run(lambda db: outbox.pending_facts(db, 500))


async def run(client: AppClient, work: Any) -> Any:
    """Run `work(db)` on the store thread."""
    return await services_of(client).store.run(work)


async def test_a_new_session_is_queued(client: AppClient) -> None:
    """Starting a session queues it as a valid session item."""
    session_id = await start_session(client)
    [fact] = await pending(client)
    assert (fact.kind, fact.fact_id, fact.revision) == ("session", session_id, 1)
    item = SYNC_ITEM.validate_python(fact.item)
    assert item.kind == "session"
    assert fact.item["payload"]["localDate"] == "2026-11-25"


async def test_every_kind_is_queued_as_a_valid_item(client: AppClient, clock: FakeClock) -> None:
    """Sessions, segments, bookmarks and help requests all come out as valid items."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(30)
    await track(client, clock, session_id, "Math")
    await client.post("/api/bookmark", json={"sessionId": session_id, "note": "look again"})
    await client.post("/api/help-count", json={"sessionId": session_id})
    facts = await pending(client)
    assert {f.kind for f in facts} == {"session", "topic_segment", "bookmark", "help_request"}
    for fact in facts:
        assert SYNC_ITEM.validate_python(fact.item).id == fact.fact_id


async def test_a_change_raises_the_revision(client: AppClient, clock: FakeClock) -> None:
    """Ending a session is a new revision of the same fact."""
    session_id = await start_session(client)
    first = {f.fact_id: f.revision for f in await pending(client)}
    clock.advance(60)
    await client.post(f"/api/session/{session_id}/end")
    later = {f.fact_id: f for f in await pending(client)}
    assert later[session_id].revision > first[session_id]
    assert later[session_id].item["payload"]["endReason"] == "ended"


async def test_delivered_facts_leave_the_queue_until_they_change(
    client: AppClient, clock: FakeClock
) -> None:
    """Acknowledged revisions are not sent again; the next change is."""
    session_id = await start_session(client)
    facts = await pending(client)
    await run(client, lambda db: outbox.mark_delivered(db, facts))
    assert await pending(client) == []
    clock.advance(60)
    await client.post(f"/api/session/{session_id}/end")
    assert [f.fact_id for f in await pending(client)] == [session_id]


async def test_an_ack_of_an_older_revision_leaves_the_newer_one_pending(
    client: AppClient, clock: FakeClock
) -> None:
    """A change made while its fact was in flight stays pending after the ack of what was sent."""
    session_id = await start_session(client)
    in_flight = await pending(client)
    clock.advance(60)
    await client.post(f"/api/session/{session_id}/end")
    await run(client, lambda db: outbox.mark_delivered(db, in_flight))
    [left] = [f for f in await pending(client) if f.fact_id == session_id]
    assert left.revision > in_flight[0].revision


async def test_a_rejected_revision_is_parked(client: AppClient, clock: FakeClock) -> None:
    """A refused revision is not retried, but counted; a later change is tried again."""
    session_id = await start_session(client)
    [fact] = await pending(client)
    await run(client, lambda db: outbox.mark_rejected(db, fact, "invalid_item"))
    assert await pending(client) == []
    assert (await run(client, outbox.backlog)).rejected == 1
    clock.advance(60)
    await client.post(f"/api/session/{session_id}/end")
    assert [f.fact_id for f in await pending(client)] == [session_id]


async def test_an_event_waits_for_its_image(vision_client: AppClient) -> None:
    """A learning event is held back until its original is confirmed in the cloud."""
    frame = await upload(vision_client, jpeg(640, 480))
    kinds = {f.kind for f in await pending(vision_client)}
    assert "learning_event" not in kinds
    [key] = await run(vision_client, lambda db: outbox.images_to_upload(db, 10))
    assert key == frame["imageKey"]
    assert (await run(vision_client, outbox.backlog)).images == 1
    await run(
        vision_client,
        lambda db: outbox.mark_images(db, [key], "uploaded_at", "2026-11-25T09:00:00.000Z"),
    )
    [event] = [f for f in await pending(vision_client) if f.kind == "learning_event"]
    assert event.item["payload"]["imageSha256"] == key.split(".")[0]
    assert event.item["payload"]["topic"] == frame["analysis"]["topic"]


async def test_an_event_whose_image_vanished_goes_without_it(vision_client: AppClient) -> None:
    """An original missing locally releases its event, which then names no image."""
    frame = await upload(vision_client, jpeg(640, 480))
    key = frame["imageKey"]
    await run(
        vision_client,
        lambda db: outbox.mark_images(db, [key], "missing_at", "2026-11-25T09:00:00.000Z"),
    )
    [event] = [f for f in await pending(vision_client) if f.kind == "learning_event"]
    assert event.item["payload"]["imageSha256"] is None


def test_facts_from_before_the_outbox_are_queued(tmp_path: Any) -> None:
    """Migrating an existing database queues the facts it already holds."""
    from edge.store.migrations import MIGRATIONS, migrate

    db = sqlite_utils.Database(tmp_path / "old.db")
    db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, step in MIGRATIONS[:3]:
        step(db)
        db.execute("INSERT INTO schema_migrations VALUES (?, 'x')", [name])
    user = db.execute("SELECT id FROM users").fetchone()[0]
    db.execute("INSERT INTO session_days VALUES ('day-1', ?, '2026-11-24', 'x')", [user])
    db.execute(
        "INSERT INTO sessions (id, day_id, started_at, last_activity_at) VALUES"
        " ('0b7e5c4e-1f6a-4d1e-9a53-6f2d1b7c9e10', 'day-1', '2026-11-24T09:00:00.000Z',"
        " '2026-11-24T09:00:00.000Z')"
    )
    migrate(db)
    assert [f.fact_id for f in outbox.pending_facts(db, 10)] == [
        "0b7e5c4e-1f6a-4d1e-9a53-6f2d1b7c9e10"
    ]


async def test_a_fact_out_of_the_sync_bounds_is_parked_not_a_stall(
    client: AppClient, clock: FakeClock
) -> None:
    """A session whose clock said 1970 is parked as invalid_locally; the facts after it still go."""
    broken = await start_session(client)
    await client.post(f"/api/session/{broken}/end")
    await run(
        client,
        lambda db: db.execute(
            "UPDATE sessions SET started_at = '1970-01-01T00:00:00.000Z' WHERE id = ?", [broken]
        ),
    )
    fine = await start_session(client)

    facts = await pending(client)

    assert [f.fact_id for f in facts if f.kind == "session"] == [fine]
    parked = await run(
        client,
        lambda db: db.execute(
            "SELECT rejected_code FROM sync_outbox WHERE fact_id = ?", [broken]
        ).fetchone()[0],
    )
    assert parked == "invalid_locally"


# --- cards and review logs: facts since migration 0010 --------------------------------------


def _card_session(db: sqlite_utils.Database) -> tuple[str, str]:
    """A session of one Biology page with one card of it: their ids."""
    session_id, [event_id] = add_session(db, [MITOSIS])
    draft = CardDraft(event_id, "Biology", "Cell division", "qa", "What is mitosis?", "Division")
    card_id = records.insert_card(db, session_id, draft, "on-device", STARTED)
    assert card_id is not None
    return session_id, card_id


def _memory_facts(db: sqlite_utils.Database) -> dict[str, list[outbox.PendingFact]]:
    found: dict[str, list[outbox.PendingFact]] = {}
    for fact in outbox.pending_facts(db, 500):
        found.setdefault(fact.item["kind"], []).append(fact)
    return found


def test_a_card_and_its_grade_are_queued_as_valid_items(db: sqlite_utils.Database) -> None:
    """A made card, then a grade: a card item with its schedule and a review-log item."""
    session_id, card_id = _card_session(db)
    review.grade(db, Scheduler(), card_id, "good", STARTED + timedelta(hours=1), ZONE, 4200)

    facts = _memory_facts(db)

    [card] = facts["card"]
    [log] = facts["review_log"]
    assert SYNC_ITEM.validate_python(card.item).id == card_id
    assert card.item["payload"]["sessionId"] == session_id
    assert card.item["payload"]["question"] == "What is mitosis?"
    assert card.item["payload"]["state"] == "learning"
    assert card.item["payload"]["lastReview"] == "2026-11-25T09:00:00Z"  # graded an hour in
    assert SYNC_ITEM.validate_python(log.item).kind == "review_log"
    assert log.item["payload"]["cardId"] == card_id
    assert log.item["payload"]["rating"] == "good"
    assert log.item["payload"]["reviewDurationMs"] == 4200
    assert log.item["payload"]["due"] == card.item["payload"]["due"]


def test_a_grade_is_a_new_revision_of_a_delivered_card(db: sqlite_utils.Database) -> None:
    """Once the cloud holds a card, grading it queues the card again, one revision up."""
    _, card_id = _card_session(db)
    [card] = _memory_facts(db)["card"]
    outbox.mark_delivered(db, [card])
    assert "card" not in _memory_facts(db)

    review.grade(db, Scheduler(), card_id, "again", STARTED + timedelta(hours=1), ZONE)

    [again] = _memory_facts(db)["card"]
    assert again.revision == card.revision + 1


def test_a_deleted_card_buries_itself_and_its_review_logs(db: sqlite_utils.Database) -> None:
    """`DELETE /api/cards/{id}`'s work: tombstones for the card and for each of its grades."""
    _, card_id = _card_session(db)
    review.grade(db, Scheduler(), card_id, "hard", STARTED + timedelta(hours=1), ZONE)
    [log_id] = [row["id"] for row in db.query("SELECT id FROM review_logs")]

    review.delete(db, card_id, linked=True)

    buried = {(f.item["payload"]["factKind"], f.fact_id) for f in _memory_facts(db)["tombstone"]}
    assert buried == {("card", card_id), ("review_log", log_id)}


def test_forgetting_a_session_buries_its_cards(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """Cards and review logs go with their session, each with its tombstone for the cloud."""
    session_id, card_id = _card_session(db)
    review.grade(db, Scheduler(), card_id, "easy", STARTED + timedelta(hours=1), ZONE)
    scope = ForgetScope(session_id=session_id)
    plan = forget.plan_forget(db, scope, today=STARTED.date(), zone=ZONE, recordings=tmp_path)

    forget.carry_out(db, plan, OriginalStore(tmp_path / "images"), linked=True)

    kinds = [f.item["payload"]["factKind"] for f in _memory_facts(db)["tombstone"]]
    assert sorted(k for k in kinds if k in ("card", "review_log")) == ["card", "review_log"]
    assert db.table("cards").count == 0


def test_cards_from_before_migration_0010_are_queued(tmp_path: Path) -> None:
    """Cards and grades made before cards were synced are sent once the edge updates."""
    from edge.store.migrations import MIGRATIONS, migrate

    old = sqlite_utils.Database(tmp_path / "old.db")
    old.conn.row_factory = sqlite3.Row  # as `open_database` reads rows
    old.execute("PRAGMA foreign_keys = ON")
    old.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, step in MIGRATIONS[: [n for n, _ in MIGRATIONS].index("0010_sync_study_memory")]:
        step(old)
        old.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
    _, card_id = _card_session(old)
    review.grade(old, Scheduler(), card_id, "good", STARTED + timedelta(hours=1), ZONE)
    assert old.execute("SELECT count(*) FROM sync_outbox WHERE kind = 'card'").fetchone()[0] == 0

    assert migrate(old) == ["0010_sync_study_memory"]

    facts = _memory_facts(old)
    assert [f.fact_id for f in facts["card"]] == [card_id]
    assert len(facts["review_log"]) == 1


def test_an_unlinked_edge_keeps_no_tombstone_of_a_card_never_sent(
    db: sqlite_utils.Database,
) -> None:
    """Unlinked, a card the cloud never had goes without a trace; one it had keeps its tombstone."""
    _, sent = _card_session(db)
    outbox.mark_delivered(db, _memory_facts(db)["card"])
    session_id, [event_id] = add_session(db, [MITOSIS])
    draft = CardDraft(event_id, "Biology", None, "qa", "What does mitosis make?", "Two nuclei")
    unsent = records.insert_card(db, session_id, draft, "on-device", STARTED)
    assert unsent is not None

    review.delete(db, sent, linked=False)
    review.delete(db, unsent, linked=False)

    buried = [f.fact_id for f in _memory_facts(db)["tombstone"]]
    assert buried == [sent]
