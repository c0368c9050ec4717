"""Reads behind the dashboard (run on the store thread)."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo

import sqlite_utils

from edge import analytics
from edge.dashboard.models import (
    CurrentSession,
    FrameView,
    SegmentView,
    Split,
    TodayBoard,
)
from edge.help_requests import help_report
from edge.sessions import records
from shared.analysis import FrameAnalysis
from shared.clock import from_iso, local_date


def today_board(
    db: sqlite_utils.Database, now: datetime, zone: tzinfo, current: str | None
) -> TodayBoard:
    """Today's totals, the active/passive/distracted split, the running timeline, help asked."""
    day = local_date(now, zone)
    stats = analytics.today_stats(db, now, zone)
    split = Split(
        active=sum(s.active_count for s in stats.topic_stats),
        passive=sum(s.passive_count for s in stats.topic_stats),
        distracted=sum(s.distracted_count for s in stats.topic_stats),
    )
    running = None
    session = records.get_session(db, current) if current else None
    if session is not None and session.ended_at is None:
        segments = [
            SegmentView(
                topic=g.topic,
                started_at=g.started_at,
                until=g.ended_at or g.last_seen_at,
                running=g.ended_at is None,
                seconds=round(((g.ended_at or g.last_seen_at) - g.started_at).total_seconds()),
            )
            for g in records.session_segments(db, session.session_id)
        ]
        running = CurrentSession(
            session_id=session.session_id, started_at=session.started_at, segments=segments
        )
    return TodayBoard(
        date=day,
        now=now,
        stats=stats,
        split=split,
        current=running,
        help_requests=help_report(db, day).count,
    )


def recent_frames(db: sqlite_utils.Database, limit: int) -> list[FrameView]:
    """The latest learning events, newest first, with their analysis and bookmark state."""
    rows = db.execute(
        """SELECT e.id, e.session_id, e.captured_at, e.image_key, e.outcome, e.source,
                  e.confidence, e.analysis_json,
                  EXISTS (SELECT 1 FROM bookmarks b WHERE b.learning_event_id = e.id)
                      AS bookmarked
           FROM learning_events e ORDER BY e.captured_at DESC, e.rowid DESC LIMIT ?""",
        [limit],
    ).fetchall()
    return [
        FrameView(
            analysis_id=row["id"],
            session_id=row["session_id"],
            captured_at=from_iso(row["captured_at"]),
            image_url=f"/api/images/{row['image_key']}" if row["image_key"] else None,
            outcome=row["outcome"],
            source=row["source"],
            confidence=row["confidence"],
            analysis=(
                FrameAnalysis.model_validate(json.loads(row["analysis_json"]))
                if row["analysis_json"]
                else None
            ),
            bookmarked=bool(row["bookmarked"]),
        )
        for row in rows
    ]
