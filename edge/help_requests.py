"""Help requests: how often the student asked the tutor for help, per session and per day."""

from __future__ import annotations

import uuid
from datetime import date, datetime, tzinfo

import sqlite_utils

from edge.errors import SessionNotActive, SessionNotFound
from edge.sessions import records
from edge.sessions.models import SessionId
from edge.store import transaction
from shared.clock import local_date, to_iso
from shared.schemas import RequestModel, WireModel


class HelpCountRequest(RequestModel):
    """Body of `POST /api/help-count`."""

    session_id: SessionId


# --- responses ------------------------------------------------------------------------------


class HelpCounted(WireModel):
    """A help request was recorded."""

    session_id: str
    date: date
    session_count: int
    day_count: int


class SessionHelpCount(WireModel):
    """Help requests of one session on a day."""

    session_id: str
    count: int


class HelpCountReport(WireModel):
    """Help requests on one local day."""

    date: date
    count: int
    sessions: list[SessionHelpCount]


def count_help_request(
    db: sqlite_utils.Database, session_id: str, at: datetime, zone: tzinfo
) -> HelpCounted:
    """Record one help request in a running session; return the counts after it."""
    day = local_date(at, zone)
    with transaction(db):
        session = records.get_session(db, session_id)
        if session is None:
            raise SessionNotFound(session_id)
        if not session.active:
            raise SessionNotActive(session_id)
        db.table("help_requests").insert(
            {
                "id": str(uuid.uuid4()),
                "session_id": session_id,
                "local_date": day.isoformat(),
                "created_at": to_iso(at),
            }
        )
        in_session = db.execute(
            "SELECT count(*) AS n FROM help_requests WHERE session_id = ?", [session_id]
        ).fetchone()
        on_day = db.execute(
            "SELECT count(*) AS n FROM help_requests WHERE local_date = ?", [day.isoformat()]
        ).fetchone()
    return HelpCounted(
        session_id=session_id, date=day, session_count=in_session["n"], day_count=on_day["n"]
    )


def help_report(db: sqlite_utils.Database, day: date) -> HelpCountReport:
    """Help requests on a local day, per session."""
    rows = db.execute(
        "SELECT session_id, count(*) AS n FROM help_requests WHERE local_date = ?"
        " GROUP BY session_id ORDER BY min(created_at)",
        [day.isoformat()],
    ).fetchall()
    sessions = [SessionHelpCount(session_id=row["session_id"], count=row["n"]) for row in rows]
    return HelpCountReport(date=day, count=sum(s.count for s in sessions), sessions=sessions)
