"""The outbox's wire items field by field: each equals what the store holds for its fact.

The facts are written (or adjusted) with SQL so every column holds a value of its own; the
item read back through `pending_facts` must carry each of them under its wire name.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlite_utils

from edge.sync import outbox
from shared.clock import from_iso
from tests.support import AppClient, FakeClock, services_of, start_session, track

SHA = "ab" * 32
FAR_PAST = "1970-01-01T00:00:00.000Z"


async def run(client: AppClient, work: Any) -> Any:
    """Run `work(db)` on the store thread."""
    return await services_of(client).store.run(work)


async def pending(client: AppClient) -> dict[str, outbox.PendingFact]:
    """Every pending fact, by id."""
    facts = await run(client, lambda db: outbox.pending_facts(db, 500))
    return {f.fact_id: f for f in facts}


def row(db: sqlite_utils.Database, sql: str, params: list[Any]) -> dict[str, Any]:
    """One row as a dict."""
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def topic_ids(db: sqlite_utils.Database, topic: str, subtopic: str) -> tuple[int, int]:
    """The ids of a topic and of a subtopic of it (made if new)."""
    db.execute("INSERT OR IGNORE INTO topics (name) VALUES (?)", [topic])
    topic_id = db.execute("SELECT id FROM topics WHERE name = ?", [topic]).fetchone()[0]
    db.execute(
        "INSERT OR IGNORE INTO subtopics (topic_id, name) VALUES (?, ?)", [topic_id, subtopic]
    )
    subtopic_id = db.execute(
        "SELECT id FROM subtopics WHERE topic_id = ? AND name = ?", [topic_id, subtopic]
    ).fetchone()[0]
    return topic_id, subtopic_id


def insert_event(db: sqlite_utils.Database, **values: Any) -> str:
    """A learning event row with these columns; returns its id."""
    event_id = str(uuid.uuid4())
    db.table("learning_events").insert({"id": event_id} | values)
    return event_id


def local_date_of(db: sqlite_utils.Database, session_id: str) -> str:
    """The local day a session belongs to."""
    return str(
        db.execute(
            "SELECT d.local_date FROM sessions s JOIN session_days d ON d.id = s.day_id"
            " WHERE s.id = ?",
            [session_id],
        ).fetchone()[0]
    )


def when(text: str | None) -> Any:
    """A wire or stored time as a datetime, for comparing the two."""
    return None if text is None else from_iso(text)


async def test_every_field_of_a_learning_event_item_is_its_rows(client: AppClient) -> None:
    """Each learning_event item carries its own row's columns (flags true, false or unknown)."""
    session_id = await start_session(client)
    extracted = "mitosis has four phases"

    def write(db: sqlite_utils.Database) -> list[tuple[str, dict[str, Any]]]:
        biology, cells = topic_ids(db, "Biology", "Cells")
        day = local_date_of(db, session_id)
        common = {"sessionId": session_id, "localDate": day}
        analysed = insert_event(
            db,
            session_id=session_id,
            captured_at="2026-11-25T09:00:05.000Z",
            outcome="analysed",
            error_code="model_retry",
            source="cloud_model",
            analysis_json=json.dumps({"extractedText": extracted}),
            topic_id=biology,
            subtopic_id=cells,
            is_studying=1,
            is_active=0,
            is_distracted=None,
        )
        reused = insert_event(
            db,
            session_id=session_id,
            captured_at="2026-11-25T09:00:06.000Z",
            image_key=f"{SHA}.jpg",
            outcome="reused",
            source="cache",
            analysis_json=json.dumps({"topic": "Biology"}),  # no text was read
            topic_id=biology,
            is_studying=None,
            is_active=1,
            is_distracted=0,
        )
        outbox.mark_images(db, [f"{SHA}.jpg"], "uploaded_at", "2026-11-25T09:00:07.000Z")
        failed = insert_event(
            db,
            session_id=session_id,
            captured_at="2026-11-25T09:00:08.000Z",
            outcome="failed",
            error_code="vision_timeout",
            is_studying=0,
            is_active=None,
            is_distracted=1,
        )
        return [
            (
                analysed,
                common
                | {
                    "capturedAt": "2026-11-25T09:00:05.000Z",
                    "outcome": "analysed",
                    "errorCode": "model_retry",
                    "source": "cloud_model",
                    "topic": "Biology",
                    "subtopic": "Cells",
                    "isStudying": True,
                    "isActive": False,
                    "isDistracted": None,
                    "extractedText": extracted,
                    "imageSha256": None,
                },
            ),
            (
                reused,
                common
                | {
                    "capturedAt": "2026-11-25T09:00:06.000Z",
                    "outcome": "reused",
                    "errorCode": None,
                    "source": "cache",
                    "topic": "Biology",
                    "subtopic": None,
                    "isStudying": None,
                    "isActive": True,
                    "isDistracted": False,
                    "extractedText": "",
                    "imageSha256": SHA,
                },
            ),
            (
                failed,
                common
                | {
                    "capturedAt": "2026-11-25T09:00:08.000Z",
                    "outcome": "failed",
                    "errorCode": "vision_timeout",
                    "source": None,
                    "topic": None,
                    "subtopic": None,
                    "isStudying": False,
                    "isActive": None,
                    "isDistracted": True,
                    "extractedText": "",
                    "imageSha256": None,
                },
            ),
        ]

    expected = await run(client, write)
    facts = await pending(client)

    for event_id, payload in expected:
        fact = facts[event_id]
        assert (fact.kind, fact.item["kind"], fact.item["id"]) == (
            "learning_event",
            "learning_event",
            event_id,
        )
        sent = fact.item["payload"]
        assert {k: sent.get(k) for k in payload if k != "capturedAt"} == {
            k: v for k, v in payload.items() if k != "capturedAt"
        }
        assert when(sent["capturedAt"]) == when(payload["capturedAt"])


async def test_a_learning_event_item_carries_its_confidence(client: AppClient) -> None:
    """The stored confidence goes out as `confidence`; a NULL one as null, which ingest takes."""
    session_id = await start_session(client)

    def write(db: sqlite_utils.Database) -> dict[str, float | None]:
        common = {
            "session_id": session_id,
            "captured_at": "2026-11-25T09:00:05.000Z",
            "analysis_json": json.dumps({"extractedText": ""}),
        }
        sure = insert_event(db, **common, outcome="analysed", source="on-device", confidence=0.9)
        silent = insert_event(db, **common, outcome="analysed", source="gpt-4.1")
        return {sure: 0.9, silent: None}

    expected = await run(client, write)
    facts = await pending(client)
    assert {i: facts[i].item["payload"]["confidence"] for i in expected} == expected
    from cloud.ingest import validate_items

    valid, rejected = validate_items([facts[i].item for i in expected])
    assert rejected == {}
    assert [v.fact.model_dump()["confidence"] for v in valid] == list(expected.values())


async def test_extracted_text_is_cut_to_the_wire_limit(client: AppClient) -> None:
    """Text longer than the sync schema allows goes out cut to its first 20,000 characters."""
    session_id = await start_session(client)
    text = "x" * 19_999 + "yz"  # 20,001 characters

    event_id = await run(
        client,
        lambda db: insert_event(
            db,
            session_id=session_id,
            captured_at="2026-11-25T09:00:05.000Z",
            outcome="analysed",
            analysis_json=json.dumps({"extractedText": text}),
        ),
    )

    sent = (await pending(client))[event_id].item["payload"]["extractedText"]
    assert sent == text[:20_000]


async def test_every_field_of_a_topic_segment_item_is_its_rows(
    client: AppClient, clock: FakeClock
) -> None:
    """An ended segment's item carries its own topic, day, times, duration and counts."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(30)
    await track(client, clock, session_id, "Math")

    def adjust(db: sqlite_utils.Database) -> dict[str, Any]:
        segment_id = db.execute(
            "SELECT g.id FROM topic_segments g JOIN topics t ON t.id = g.topic_id"
            " WHERE t.name = 'Biology'"
        ).fetchone()[0]
        db.execute(
            "UPDATE topic_segments SET started_at = '2026-11-25T09:00:01.000Z',"
            " last_seen_at = '2026-11-25T09:00:20.000Z', ended_at = '2026-11-25T09:00:29.000Z',"
            " duration_seconds = 27.5, active_count = 3, passive_count = 2, distracted_count = 1"
            " WHERE id = ?",
            [segment_id],
        )
        return row(
            db,
            "SELECT g.*, t.name AS topic FROM topic_segments g JOIN topics t ON t.id = g.topic_id"
            " WHERE g.id = ?",
            [segment_id],
        )

    held = await run(client, adjust)
    fact = (await pending(client))[held["id"]]
    sent = fact.item["payload"]

    assert fact.kind == "topic_segment"
    assert {
        "sessionId": sent["sessionId"],
        "topic": sent["topic"],
        "localDate": sent["localDate"],
        "startedAt": when(sent["startedAt"]),
        "lastSeenAt": when(sent["lastSeenAt"]),
        "endedAt": when(sent["endedAt"]),
        "durationSeconds": sent["durationSeconds"],
        "activeCount": sent["activeCount"],
        "passiveCount": sent["passiveCount"],
        "distractedCount": sent["distractedCount"],
    } == {
        "sessionId": held["session_id"],
        "topic": "Biology",
        "localDate": held["local_date"],
        "startedAt": when(held["started_at"]),
        "lastSeenAt": when(held["last_seen_at"]),
        "endedAt": when(held["ended_at"]),
        "durationSeconds": 27.5,
        "activeCount": 3,
        "passiveCount": 2,
        "distractedCount": 1,
    }


async def test_an_ended_session_item_carries_when_and_why_it_ended(
    client: AppClient, clock: FakeClock
) -> None:
    """A session ended by the student goes out with its own end time and reason."""
    session_id = await start_session(client)
    clock.advance(90)
    await client.post(f"/api/session/{session_id}/end")

    held = await run(
        client, lambda db: row(db, "SELECT * FROM sessions WHERE id = ?", [session_id])
    )
    sent = (await pending(client))[session_id].item["payload"]

    assert held["ended_at"] is not None
    assert when(sent["endedAt"]) == when(held["ended_at"])
    assert when(sent["startedAt"]) == when(held["started_at"])
    assert when(sent["lastActivityAt"]) == when(held["last_activity_at"])
    assert sent["endReason"] == held["end_reason"]


async def test_a_bookmark_item_names_its_event_and_carries_its_note(client: AppClient) -> None:
    """A bookmark on an analysed frame goes out with that event's id, its note and its time."""
    session_id = await start_session(client)

    def write(db: sqlite_utils.Database) -> dict[str, Any]:
        event_id = insert_event(
            db,
            session_id=session_id,
            captured_at="2026-11-25T09:00:05.000Z",
            outcome="analysed",
            analysis_json="{}",
        )
        bookmark_id = str(uuid.uuid4())
        db.table("bookmarks").insert(
            {
                "id": bookmark_id,
                "session_id": session_id,
                "learning_event_id": event_id,
                "note": "ask about the Krebs cycle",
                "created_at": "2026-11-25T09:00:06.000Z",
            }
        )
        return row(db, "SELECT * FROM bookmarks WHERE id = ?", [bookmark_id])

    held = await run(client, write)
    fact = (await pending(client))[held["id"]]
    sent = fact.item["payload"]

    assert fact.kind == "bookmark"
    assert (sent["sessionId"], sent["learningEventId"], sent["note"]) == (
        session_id,
        held["learning_event_id"],
        "ask about the Krebs cycle",
    )
    assert when(sent["createdAt"]) == when(held["created_at"])


def _event_at_1970(db: sqlite_utils.Database, session_id: str) -> str:
    return insert_event(
        db, session_id=session_id, captured_at=FAR_PAST, outcome="analysed", analysis_json="{}"
    )


def _segment_at_1970(db: sqlite_utils.Database, session_id: str) -> str:
    segment_id = str(db.execute("SELECT id FROM topic_segments").fetchone()[0])
    db.execute("UPDATE topic_segments SET started_at = ? WHERE id = ?", [FAR_PAST, segment_id])
    return segment_id


def _bookmark_at_1970(db: sqlite_utils.Database, session_id: str) -> str:
    bookmark_id = str(uuid.uuid4())
    db.table("bookmarks").insert(
        {"id": bookmark_id, "session_id": session_id, "note": "n", "created_at": FAR_PAST}
    )
    return bookmark_id


def _help_request_at_1970(db: sqlite_utils.Database, session_id: str) -> str:
    help_id = str(uuid.uuid4())
    day = local_date_of(db, session_id)
    db.table("help_requests").insert(
        {"id": help_id, "session_id": session_id, "local_date": day, "created_at": FAR_PAST}
    )
    return help_id


@pytest.mark.parametrize(
    ("kind", "write"),
    [
        pytest.param("learning_event", _event_at_1970, id="learning_event"),
        pytest.param("topic_segment", _segment_at_1970, id="topic_segment"),
        pytest.param("bookmark", _bookmark_at_1970, id="bookmark"),
        pytest.param("help_request", _help_request_at_1970, id="help_request"),
    ],
)
async def test_a_fact_of_any_kind_out_of_bounds_is_parked_as_invalid_locally(
    client: AppClient, clock: FakeClock, kind: str, write: Any
) -> None:
    """A fact whose time says 1970 is parked under its own kind and counted as refused."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    broken = await run(client, lambda db: write(db, session_id))

    facts = await pending(client)

    assert broken not in facts
    assert session_id in facts  # the facts beside it still go
    parked = await run(
        client,
        lambda db: db.execute(
            "SELECT kind, rejected_code FROM sync_outbox WHERE fact_id = ?", [broken]
        ).fetchall(),
    )
    assert [tuple(p) for p in parked] == [(kind, "invalid_locally")]
    assert (await run(client, outbox.backlog)).rejected == 1


async def test_nothing_waiting_counts_zero_images_and_zero_refused(client: AppClient) -> None:
    """With facts pending but no original waiting and none refused, those counts are 0."""
    await start_session(client)
    assert await run(client, outbox.backlog) == outbox.Backlog(facts=1, images=0, rejected=0)


async def test_marking_originals_under_an_unknown_column_names_it(client: AppClient) -> None:
    """Only `uploaded_at` and `missing_at` can be marked; another column is refused by name."""
    with pytest.raises(ValueError, match=r"^pruned_at$"):
        await run(client, lambda db: outbox.mark_images(db, [f"{SHA}.jpg"], "pruned_at", "x"))
