"""SQL for sessions, session days and topic segments; plain functions on a sqlite-utils db."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlite_utils

from edge.store.migrations import LOCAL_USER_NAME
from edge.topics.tracker import Segment
from shared.clock import from_iso, to_iso


@dataclass(frozen=True)
class SessionRecord:
    """One row of `sessions`, with the local date of its day."""

    session_id: str
    day: date
    started_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None
    end_reason: str | None

    @property
    def active(self) -> bool:
        """Whether the session is still running."""
        return self.ended_at is None


_SESSION_COLUMNS = """
    s.id, d.local_date, s.started_at, s.last_activity_at, s.ended_at, s.end_reason
    FROM sessions s JOIN session_days d ON d.id = s.day_id
"""


def _session(row: sqlite3.Row) -> SessionRecord:
    return SessionRecord(
        session_id=row["id"],
        day=date.fromisoformat(row["local_date"]),
        started_at=from_iso(row["started_at"]),
        last_activity_at=from_iso(row["last_activity_at"]),
        ended_at=from_iso(row["ended_at"]) if row["ended_at"] else None,
        end_reason=row["end_reason"],
    )


def local_user_id(db: sqlite_utils.Database) -> str:
    """Return the id of the edge's one student (made by the seed migration)."""
    row = db.execute(
        "SELECT id FROM users WHERE display_name = ? ORDER BY created_at LIMIT 1", [LOCAL_USER_NAME]
    ).fetchone()
    if row is None:
        raise LookupError("the local user is missing; was the database migrated?")
    return str(row["id"])


def ensure_day(db: sqlite_utils.Database, user_id: str, day: date, at: datetime) -> str:
    """Return the id of the user's row for `day`, creating it if needed."""
    db.execute(
        "INSERT INTO session_days (id, user_id, local_date, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, local_date) DO NOTHING",
        [str(uuid.uuid4()), user_id, day.isoformat(), to_iso(at)],
    )
    row = db.execute(
        "SELECT id FROM session_days WHERE user_id = ? AND local_date = ?",
        [user_id, day.isoformat()],
    ).fetchone()
    return str(row["id"])


def insert_session(db: sqlite_utils.Database, session_id: str, day_id: str, at: datetime) -> None:
    """Add a running session that started at `at`."""
    db.table("sessions").insert(
        {
            "id": session_id,
            "day_id": day_id,
            "started_at": to_iso(at),
            "last_activity_at": to_iso(at),
        }
    )


def get_session(db: sqlite_utils.Database, session_id: str) -> SessionRecord | None:
    """Return one session, or None."""
    row = db.execute(f"SELECT {_SESSION_COLUMNS} WHERE s.id = ?", [session_id]).fetchone()
    return _session(row) if row else None


def running_sessions(db: sqlite_utils.Database) -> list[SessionRecord]:
    """Return every session that has not ended."""
    rows = db.execute(f"SELECT {_SESSION_COLUMNS} WHERE s.ended_at IS NULL ORDER BY s.started_at")
    return [_session(row) for row in rows]


def recent_sessions(db: sqlite_utils.Database, limit: int) -> list[SessionRecord]:
    """Return the latest sessions, newest first."""
    rows = db.execute(f"SELECT {_SESSION_COLUMNS} ORDER BY s.started_at DESC LIMIT ?", [limit])
    return [_session(row) for row in rows]


def touch_session(db: sqlite_utils.Database, session_id: str, at: datetime) -> bool:
    """Record activity in a running session; False if the session is not stored (forgotten)."""
    cursor = db.execute(
        "UPDATE sessions SET last_activity_at = max(last_activity_at, ?) WHERE id = ?",
        [to_iso(at), session_id],
    )
    return cursor.rowcount > 0


def finish_session(db: sqlite_utils.Database, session_id: str, at: datetime, reason: str) -> bool:
    """Mark a running session ended; False if there is no running session of this id."""
    cursor = db.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        [to_iso(at), reason, session_id],
    )
    return cursor.rowcount > 0


def topic_id(db: sqlite_utils.Database, name: str) -> int:
    """Return the id of a topic by name, adding the topic if it is new."""
    db.execute("INSERT INTO topics (name) VALUES (?) ON CONFLICT (name) DO NOTHING", [name])
    row = db.execute("SELECT id FROM topics WHERE name = ?", [name]).fetchone()
    return int(row["id"])


def save_segments(db: sqlite_utils.Database, segments: Iterable[Segment]) -> None:
    """Insert or update segments by id (a running segment is updated until it closes)."""
    for segment in segments:
        db.execute(
            """INSERT INTO topic_segments (id, session_id, topic_id, local_date, started_at,
                   last_seen_at, ended_at, duration_seconds, active_count, passive_count,
                   distracted_count)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET
                   topic_id = excluded.topic_id, local_date = excluded.local_date,
                   started_at = excluded.started_at, last_seen_at = excluded.last_seen_at,
                   ended_at = excluded.ended_at, duration_seconds = excluded.duration_seconds,
                   active_count = excluded.active_count, passive_count = excluded.passive_count,
                   distracted_count = excluded.distracted_count""",
            [
                segment.segment_id,
                segment.session_id,
                topic_id(db, segment.topic),
                segment.day.isoformat(),
                to_iso(segment.started_at),
                to_iso(segment.last_seen_at),
                to_iso(segment.ended_at) if segment.ended_at else None,
                segment.seconds if segment.ended_at else None,
                segment.active_count,
                segment.passive_count,
                segment.distracted_count,
            ],
        )


_SEGMENT_COLUMNS = """
    g.id, g.session_id, t.name AS topic, g.local_date, g.started_at, g.last_seen_at, g.ended_at,
    g.active_count, g.passive_count, g.distracted_count
    FROM topic_segments g JOIN topics t ON t.id = g.topic_id
"""


def _segment(row: sqlite3.Row) -> Segment:
    return Segment(
        segment_id=row["id"],
        session_id=row["session_id"],
        topic=row["topic"],
        day=date.fromisoformat(row["local_date"]),
        started_at=from_iso(row["started_at"]),
        last_seen_at=from_iso(row["last_seen_at"]),
        ended_at=from_iso(row["ended_at"]) if row["ended_at"] else None,
        active_count=row["active_count"],
        passive_count=row["passive_count"],
        distracted_count=row["distracted_count"],
    )


def running_segments(db: sqlite_utils.Database) -> list[Segment]:
    """Return the running segment of every session that has one."""
    rows = db.execute(f"SELECT {_SEGMENT_COLUMNS} WHERE g.ended_at IS NULL")
    return [_segment(row) for row in rows]


def session_segments(db: sqlite_utils.Database, session_id: str) -> list[Segment]:
    """Return all segments of a session, running one included, oldest first."""
    rows = db.execute(
        f"SELECT {_SEGMENT_COLUMNS} WHERE g.session_id = ? ORDER BY g.started_at", [session_id]
    )
    return [_segment(row) for row in rows]
