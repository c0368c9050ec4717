"""The outbox: every fact write queues the fact, read back as valid wire items."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from edge.sync import outbox
from shared.sync import SYNC_ITEM
from tests.fakes.images import jpeg
from tests.support import AppClient, FakeClock, services_of, start_session, track, upload


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
