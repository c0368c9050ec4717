"""SQL for learning events: one row per frame received, analysed or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from edge.sessions import records as session_records
from edge.store import transaction
from shared.analysis import FrameAnalysis
from shared.clock import to_iso


@dataclass(frozen=True)
class FrameEvent:
    """What happened to one frame."""

    event_id: str
    session_id: str
    captured_at: datetime
    image_key: str | None
    outcome: str  # analysed | reused | failed
    source: str | None
    analysis: FrameAnalysis | None
    error_code: str | None = None
    #: The analyser's confidence in [0, 1] (`normalise_confidence`), None when it cannot say.
    confidence: float | None = None


def _subtopic_id(db: sqlite_utils.Database, topic_id: int, name: str) -> int:
    db.execute(
        "INSERT INTO subtopics (topic_id, name) VALUES (?, ?)"
        " ON CONFLICT (topic_id, name) DO NOTHING",
        [topic_id, name],
    )
    row = db.execute(
        "SELECT id FROM subtopics WHERE topic_id = ? AND name = ?", [topic_id, name]
    ).fetchone()
    return int(row["id"])


def insert_event(db: sqlite_utils.Database, event: FrameEvent) -> str:
    """Add one learning event inside the caller's transaction; return its id."""
    analysis = event.analysis
    topic_id = subtopic_id = None
    if analysis is not None:
        topic_id = session_records.topic_id(db, analysis.topic)
        if analysis.subtopic:
            subtopic_id = _subtopic_id(db, topic_id, analysis.subtopic)
    db.table("learning_events").insert(
        {
            "id": event.event_id,
            "session_id": event.session_id,
            "captured_at": to_iso(event.captured_at),
            "image_key": event.image_key,
            "outcome": event.outcome,
            "error_code": event.error_code,
            "source": event.source,
            "analysis_json": analysis.model_dump_json(by_alias=True) if analysis else None,
            "topic_id": topic_id,
            "subtopic_id": subtopic_id,
            "is_studying": analysis.is_studying if analysis else None,
            "is_active": analysis.is_active if analysis else None,
            "is_distracted": analysis.is_distracted if analysis else None,
            "confidence": event.confidence,
        }
    )
    return event.event_id


def save_event(db: sqlite_utils.Database, event: FrameEvent) -> str:
    """Store one learning event in its own transaction; return its id."""
    with transaction(db):
        return insert_event(db, event)
