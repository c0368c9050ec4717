"""Topic totals of one session, read from the store; a running session counts up to `now`."""

from __future__ import annotations

from datetime import datetime, tzinfo

import sqlite_utils

from edge.errors import SessionNotFound
from edge.sessions import records
from edge.sessions.models import SessionTopicStats
from edge.topics.totals import Tally, as_of


def session_tally(db: sqlite_utils.Database, session_id: str, now: datetime, zone: tzinfo) -> Tally:
    """The session's segments summed, the running one up to `now`."""
    return Tally().add_segments(as_of(records.session_segments(db, session_id), now, zone))


def session_stats(
    db: sqlite_utils.Database, session_id: str, now: datetime, zone: tzinfo
) -> SessionTopicStats:
    """Topic totals of one session, else SessionNotFound."""
    session = records.get_session(db, session_id)
    if session is None:
        raise SessionNotFound(session_id)
    tally = session_tally(db, session_id, now, zone)
    return SessionTopicStats(
        session_id=session_id,
        active=session.active,
        started_at=session.started_at,
        ended_at=session.ended_at,
        end_reason=session.end_reason,
        total_seconds=tally.total_seconds,
        total_analyses=tally.total_frames,
        topic_stats=tally.stats(),
    )
