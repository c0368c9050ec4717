"""The outbox: facts waiting for the cloud, read as wire items, and what the cloud acknowledged.

Rows are made by triggers (migration 0004) in the same transaction as each fact's write; these
functions run on the store thread and read every result by column name (`sqlite3.Row`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from edge.memory.scheduler import RATING_BY_NUMBER, STATE_NAMES
from shared.clock import from_iso
from shared.sync import (
    BookmarkFact,
    BookmarkItem,
    CardFact,
    CardItem,
    HelpRequestFact,
    HelpRequestItem,
    LearningEventFact,
    LearningEventItem,
    ReviewLogFact,
    ReviewLogItem,
    SessionFact,
    SessionItem,
    Tombstone,
    TombstoneItem,
    TopicSegmentFact,
    TopicSegmentItem,
)

log = logging.getLogger(__name__)

_PENDING = "o.revision > o.delivered_revision AND o.rejected_code IS NULL"
# An event waits for its original unless the cloud has confirmed it or it is gone locally.
_IMAGE_SETTLED = """(e.image_key IS NULL OR EXISTS (
    SELECT 1 FROM sync_images i WHERE i.image_key = e.image_key
    AND (i.uploaded_at IS NOT NULL OR i.missing_at IS NOT NULL)))"""


@dataclass(frozen=True)
class PendingFact:
    """One fact to send: its outbox key, the revision read, and the wire item."""

    kind: str
    fact_id: str
    revision: int
    item: dict[str, Any]


def _query(db: sqlite_utils.Database, sql: str, params: list[Any] | None = None) -> sqlite3.Cursor:
    """Run a read whose rows come back as `sqlite3.Row`, whatever the connection's factory."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, params or [])


def _when(text: str | None) -> Any:
    return from_iso(text) if text else None


def _pending(row: sqlite3.Row, item: type[Any], payload: Any) -> PendingFact:
    """A pending fact from a row with `fact_id`, `revision` (and `kind`, for a tombstone).

    A tombstone's outbox key is that of the fact it deletes, not its wire kind.
    """
    fact_id, revision = row["fact_id"], row["revision"]
    built = item(id=fact_id, revision=revision, payload=payload)
    kind = row["kind"] if isinstance(built, TombstoneItem) else built.kind
    return PendingFact(kind, fact_id, revision, built.model_dump(mode="json", by_alias=True))


def _each(
    db: sqlite_utils.Database,
    kind: str,
    rows: list[sqlite3.Row],
    make: Callable[[sqlite3.Row], PendingFact],
) -> list[PendingFact]:
    """Build each row's wire item; a fact no cloud would accept is parked, not sent.

    A clock set to 1970 or a time that ran backwards makes a fact the sync schema's bounds
    refuse: parked (and counted as rejected), it cannot hold up the facts behind it.
    """
    found = []
    for row in rows:
        try:
            found.append(make(row))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            log.warning("%s %s parked, out of bounds: %s", kind, row["fact_id"], problems)
            db.execute(
                "UPDATE sync_outbox SET rejected_code = 'invalid_locally'"
                " WHERE kind = ? AND fact_id = ? AND revision = ?",
                [kind, row["fact_id"], row["revision"]],
            )
    return found


def _sessions(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, d.local_date, s.started_at, s.last_activity_at,
                   s.ended_at, s.end_reason
            FROM sync_outbox o JOIN sessions s ON s.id = o.fact_id
            JOIN session_days d ON d.id = s.day_id
            WHERE o.kind = 'session' AND {_PENDING} LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "session",
        rows,
        lambda r: _pending(
            r,
            SessionItem,
            SessionFact(
                local_date=date.fromisoformat(r["local_date"]),
                started_at=from_iso(r["started_at"]),
                last_activity_at=from_iso(r["last_activity_at"]),
                ended_at=_when(r["ended_at"]),
                end_reason=r["end_reason"],
            ),
        ),
    )


def _events(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, e.session_id, d.local_date, e.captured_at, e.outcome,
                   e.error_code, e.source, t.name AS topic, st.name AS subtopic, e.is_studying,
                   e.is_active, e.is_distracted, e.confidence, e.analysis_json, e.image_key,
                   (SELECT i.uploaded_at IS NOT NULL FROM sync_images i
                    WHERE i.image_key = e.image_key) AS image_uploaded
            FROM sync_outbox o JOIN learning_events e ON e.id = o.fact_id
            JOIN sessions s ON s.id = e.session_id JOIN session_days d ON d.id = s.day_id
            LEFT JOIN topics t ON t.id = e.topic_id LEFT JOIN subtopics st ON st.id = e.subtopic_id
            WHERE o.kind = 'learning_event' AND {_PENDING} AND {_IMAGE_SETTLED} LIMIT ?""",
        [limit],
    ).fetchall()

    def flag(value: int | None) -> bool | None:
        return None if value is None else bool(value)

    def make(r: sqlite3.Row) -> PendingFact:
        analysis = json.loads(r["analysis_json"]) if r["analysis_json"] else {}
        key = r["image_key"]
        return _pending(
            r,
            LearningEventItem,
            LearningEventFact(
                session_id=r["session_id"],
                local_date=date.fromisoformat(r["local_date"]),
                captured_at=from_iso(r["captured_at"]),
                outcome=r["outcome"],
                error_code=r["error_code"],
                source=r["source"],
                confidence=r["confidence"],
                topic=r["topic"],
                subtopic=r["subtopic"],
                is_studying=flag(r["is_studying"]),
                is_active=flag(r["is_active"]),
                is_distracted=flag(r["is_distracted"]),
                extracted_text=analysis.get("extractedText", "")[:20_000],
                # Only a confirmed upload is named; a vanished original is not.
                image_sha256=key.split(".")[0] if key and r["image_uploaded"] else None,
            ),
        )

    return _each(db, "learning_event", rows, make)


def _segments(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, g.session_id, t.name AS topic, g.local_date, g.started_at,
                   g.last_seen_at, g.ended_at, g.duration_seconds, g.active_count,
                   g.passive_count, g.distracted_count
            FROM sync_outbox o JOIN topic_segments g ON g.id = o.fact_id
            JOIN topics t ON t.id = g.topic_id
            WHERE o.kind = 'topic_segment' AND {_PENDING} LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "topic_segment",
        rows,
        lambda r: _pending(
            r,
            TopicSegmentItem,
            TopicSegmentFact(
                session_id=r["session_id"],
                topic=r["topic"],
                local_date=date.fromisoformat(r["local_date"]),
                started_at=from_iso(r["started_at"]),
                last_seen_at=from_iso(r["last_seen_at"]),
                ended_at=_when(r["ended_at"]),
                duration_seconds=r["duration_seconds"],
                active_count=r["active_count"],
                passive_count=r["passive_count"],
                distracted_count=r["distracted_count"],
            ),
        ),
    )


def _bookmarks(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, b.session_id, b.learning_event_id, b.note, b.created_at
            FROM sync_outbox o JOIN bookmarks b ON b.id = o.fact_id
            WHERE o.kind = 'bookmark' AND {_PENDING} LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "bookmark",
        rows,
        lambda r: _pending(
            r,
            BookmarkItem,
            BookmarkFact(
                session_id=r["session_id"],
                learning_event_id=r["learning_event_id"],
                note=r["note"],
                created_at=from_iso(r["created_at"]),
            ),
        ),
    )


def _help_requests(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, h.session_id, h.local_date, h.created_at
            FROM sync_outbox o JOIN help_requests h ON h.id = o.fact_id
            WHERE o.kind = 'help_request' AND {_PENDING} LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "help_request",
        rows,
        lambda r: _pending(
            r,
            HelpRequestItem,
            HelpRequestFact(
                session_id=r["session_id"],
                local_date=date.fromisoformat(r["local_date"]),
                created_at=from_iso(r["created_at"]),
            ),
        ),
    )


_SCHEDULE = ("state", "step", "stability", "difficulty", "due", "last_review")


def _schedule_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in _SCHEDULE)


def _schedule(r: sqlite3.Row) -> dict[str, Any]:
    """The FSRS columns of a card or review-log row, as the wire names them."""
    return {
        "state": STATE_NAMES[r["state"]],
        "step": r["step"],
        "stability": r["stability"],
        "difficulty": r["difficulty"],
        "due": from_iso(r["due"]),
        "last_review": _when(r["last_review"]),
    }


def _cards(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, c.session_id, c.learning_event_id, t.name AS topic,
                   st.name AS subtopic, c.kind, c.question, c.answer, c.maker, c.created_at,
                   {_schedule_columns("c")}
            FROM sync_outbox o JOIN cards c ON c.id = o.fact_id
            JOIN topics t ON t.id = c.topic_id LEFT JOIN subtopics st ON st.id = c.subtopic_id
            WHERE o.kind = 'card' AND {_PENDING} LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "card",
        rows,
        lambda r: _pending(
            r,
            CardItem,
            CardFact(
                session_id=r["session_id"],
                learning_event_id=r["learning_event_id"],
                topic=r["topic"],
                subtopic=r["subtopic"],
                kind=r["kind"],
                question=r["question"],
                answer=r["answer"],
                maker=r["maker"],
                created_at=from_iso(r["created_at"]),
                **_schedule(r),
            ),
        ),
    )


def _review_logs(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    rows = _query(
        db,
        f"""SELECT o.fact_id, o.revision, l.card_id, l.rating, l.reviewed_at,
                   l.review_duration_ms, {_schedule_columns("l")}
            FROM sync_outbox o JOIN review_logs l ON l.id = o.fact_id
            WHERE o.kind = 'review_log' AND {_PENDING} LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "review_log",
        rows,
        lambda r: _pending(
            r,
            ReviewLogItem,
            ReviewLogFact(
                card_id=r["card_id"],
                rating=RATING_BY_NUMBER[r["rating"]],
                reviewed_at=from_iso(r["reviewed_at"]),
                review_duration_ms=r["review_duration_ms"],
                **_schedule(r),
            ),
        ),
    )


def _tombstones(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    # Facts before originals: the cloud deletes an original only once no fact names it.
    rows = _query(
        db,
        f"""SELECT o.kind, o.fact_id, o.revision FROM sync_outbox o
            WHERE o.deleted_at IS NOT NULL AND {_PENDING}
            ORDER BY o.kind = 'image', o.rowid LIMIT ?""",
        [limit],
    ).fetchall()
    return _each(
        db,
        "tombstone",
        rows,
        lambda r: _pending(
            r,
            TombstoneItem,
            Tombstone(fact_kind=r["kind"]),
        ),
    )


_READERS = (
    _tombstones,
    _sessions,
    _segments,
    _events,
    _bookmarks,
    _help_requests,
    _cards,
    _review_logs,
)


def pending_facts(db: sqlite_utils.Database, limit: int) -> list[PendingFact]:
    """Up to `limit` facts to send: deletions, sessions, ..., events once their image settled."""
    found: list[PendingFact] = []
    for reader in _READERS:
        if len(found) >= limit:
            break
        found += reader(db, limit - len(found))
    return found


def mark_delivered(db: sqlite_utils.Database, facts: list[PendingFact]) -> None:
    """Record that the cloud holds these revisions (a later change stays pending)."""
    db.conn.executemany(
        """UPDATE sync_outbox SET delivered_revision = max(delivered_revision, ?)
           WHERE kind = ? AND fact_id = ?""",
        [(f.revision, f.kind, f.fact_id) for f in facts],
    )


def mark_rejected(db: sqlite_utils.Database, fact: PendingFact, code: str) -> None:
    """Park a revision the cloud refused; the fact's next change is tried again."""
    db.execute(
        "UPDATE sync_outbox SET rejected_code = ? WHERE kind = ? AND fact_id = ? AND revision = ?",
        [code, fact.kind, fact.fact_id, fact.revision],
    )


def images_to_upload(db: sqlite_utils.Database, limit: int) -> list[str]:
    """Keys of originals that pending events wait for."""
    rows = _query(
        db,
        f"""SELECT DISTINCT e.image_key FROM sync_outbox o
            JOIN learning_events e ON e.id = o.fact_id
            WHERE o.kind = 'learning_event' AND {_PENDING} AND e.image_key IS NOT NULL
            AND NOT {_IMAGE_SETTLED} LIMIT ?""",
        [limit],
    ).fetchall()
    return [r["image_key"] for r in rows]


def mark_images(db: sqlite_utils.Database, keys: list[str], column: str, at: str) -> None:
    """Record originals as `uploaded_at` (confirmed by the cloud) or `missing_at`."""
    if column not in ("uploaded_at", "missing_at"):
        raise ValueError(column)
    db.conn.executemany(
        f"INSERT INTO sync_images (image_key, {column}) VALUES (?, ?)"
        f" ON CONFLICT (image_key) DO UPDATE SET {column} = excluded.{column}",
        [(key, at) for key in keys],
    )


@dataclass(frozen=True)
class Backlog:
    """What is still to send."""

    facts: int
    images: int
    rejected: int
    deletions: int = 0  # of `facts`: tombstones of forgotten facts and originals


def backlog(db: sqlite_utils.Database) -> Backlog:
    """Counts of pending facts, originals waiting to upload, and refused facts."""
    counts = _query(
        db,
        """SELECT sum(revision > delivered_revision AND rejected_code IS NULL) AS facts,
                  sum(revision > delivered_revision AND rejected_code IS NULL
                      AND deleted_at IS NOT NULL) AS deletions,
                  sum(rejected_code IS NOT NULL) AS rejected FROM sync_outbox""",
    ).fetchone()
    waiting = _query(
        db,
        f"""SELECT count(DISTINCT e.image_key) AS images FROM sync_outbox o
            JOIN learning_events e ON e.id = o.fact_id
            WHERE o.kind = 'learning_event' AND {_PENDING} AND e.image_key IS NOT NULL
            AND NOT {_IMAGE_SETTLED}""",
    ).fetchone()
    return Backlog(
        facts=int(counts["facts"] or 0),
        images=int(waiting["images"] or 0),
        rejected=int(counts["rejected"] or 0),
        deletions=int(counts["deletions"] or 0),
    )


def get_state(db: sqlite_utils.Database) -> dict[str, str]:
    """The worker's persisted status values."""
    return {row["key"]: row["value"] for row in _query(db, "SELECT key, value FROM sync_state")}


def set_state(db: sqlite_utils.Database, **values: str | None) -> None:
    """Persist status values (None deletes one)."""
    for key, value in values.items():
        if value is None:
            db.execute("DELETE FROM sync_state WHERE key = ?", [key])
        else:
            db.execute(
                "INSERT INTO sync_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )


def prunable(db: sqlite_utils.Database, cutoff: str) -> list[str]:
    """Confirmed originals whose newest frame is older than `cutoff` and still on disk."""
    rows = _query(
        db,
        """SELECT i.image_key FROM sync_images i
           WHERE i.uploaded_at IS NOT NULL AND i.pruned_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM learning_events e
                           WHERE e.image_key = i.image_key AND e.captured_at >= ?)""",
        [cutoff],
    ).fetchall()
    return [r["image_key"] for r in rows]


def mark_pruned(db: sqlite_utils.Database, keys: list[str], at: str) -> None:
    """Record originals deleted locally after their upload."""
    db.conn.executemany(
        "UPDATE sync_images SET pruned_at = ? WHERE image_key = ?", [(at, k) for k in keys]
    )
