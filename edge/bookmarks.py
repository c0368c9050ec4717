"""Bookmarks: moments the student marks in a session, optionally tied to one analysed frame."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import sqlite_utils
from pydantic import Field

from edge.errors import AnalysisNotFound, SessionNotFound
from edge.sessions import records
from edge.sessions.models import SessionId
from edge.store import transaction
from shared.clock import from_iso, to_iso
from shared.schemas import RequestModel, Timestamp, WireModel

#: Longest bookmark note accepted, in characters.
MAX_NOTE_LENGTH = 2000


class BookmarkRequest(RequestModel):
    """Body of `POST /api/bookmark`."""

    session_id: SessionId
    analysis_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    note: Annotated[str, Field(max_length=MAX_NOTE_LENGTH)] = ""


class Bookmark(WireModel):
    """A moment the student marked."""

    bookmark_id: str
    session_id: str
    analysis_id: str | None
    note: str
    created_at: Timestamp


class BookmarkList(WireModel):
    """The bookmarks of one session, oldest first."""

    session_id: str
    bookmarks: list[Bookmark]


def add_bookmark(
    db: sqlite_utils.Database, session_id: str, analysis_id: str | None, note: str, at: datetime
) -> Bookmark:
    """Store a bookmark; the session must exist and the analysis, if named, must be its own."""
    with transaction(db):
        if records.get_session(db, session_id) is None:
            raise SessionNotFound(session_id)
        if analysis_id is not None:
            owner = db.execute(
                "SELECT session_id FROM learning_events WHERE id = ?", [analysis_id]
            ).fetchone()
            if owner is None or owner["session_id"] != session_id:
                raise AnalysisNotFound(analysis_id)
        bookmark = Bookmark(
            bookmark_id=str(uuid.uuid4()),
            session_id=session_id,
            analysis_id=analysis_id,
            note=note,
            created_at=at,
        )
        db.table("bookmarks").insert(
            {
                "id": bookmark.bookmark_id,
                "session_id": session_id,
                "learning_event_id": analysis_id,
                "note": note,
                "created_at": to_iso(at),
            }
        )
    return bookmark


def session_bookmarks(db: sqlite_utils.Database, session_id: str) -> BookmarkList:
    """The bookmarks of a session, oldest first."""
    if records.get_session(db, session_id) is None:
        raise SessionNotFound(session_id)
    rows = db.execute(
        "SELECT id, learning_event_id, note, created_at FROM bookmarks"
        " WHERE session_id = ? ORDER BY created_at, rowid",
        [session_id],
    )
    return BookmarkList(
        session_id=session_id,
        bookmarks=[
            Bookmark(
                bookmark_id=row["id"],
                session_id=session_id,
                analysis_id=row["learning_event_id"],
                note=row["note"],
                created_at=from_iso(row["created_at"]),
            )
            for row in rows
        ],
    )
