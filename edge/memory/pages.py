"""A session's distinct pages: the study frames whose extracted text changed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from edge.memory.port import Page
from edge.vision.classify import text_distance

#: How different (1 - trigram overlap) a frame's text must be from the last page's to be a new
#: page: a re-framed glance at one page reads a little differently each time.
NEW_PAGE_DISTANCE = 0.4
#: Shorter text is a heading or an OCR crumb, not a page to learn from.
MIN_PAGE_CHARS = 40


@dataclass(frozen=True)
class Frame:
    """One analysed study frame of a session, in capture order."""

    event_id: str
    topic: str
    subtopic: str | None
    text: str


def distinct_pages(frames: Iterable[Frame]) -> list[Page]:
    """The frames that show a new page: enough text, and different from the last page kept."""
    pages: list[Page] = []
    for frame in frames:
        text = " ".join(frame.text.split())
        if len(text) < MIN_PAGE_CHARS:
            continue
        if pages and text_distance(pages[-1].text, text) < NEW_PAGE_DISTANCE:
            continue
        pages.append(Page(frame.event_id, frame.topic, frame.subtopic, text))
    return pages


def study_frames(db: sqlite_utils.Database, session_id: str) -> list[Frame]:
    """The session's analysed study frames with text, oldest first.

    `reused` frames are the duplicate gate's "same view": never a new page.
    """
    rows = db.execute(
        """SELECT e.id, t.name AS topic, st.name AS subtopic, e.analysis_json
           FROM learning_events e
           JOIN topics t ON t.id = e.topic_id
           LEFT JOIN subtopics st ON st.id = e.subtopic_id
           WHERE e.session_id = ? AND e.outcome = 'analysed' AND e.is_studying = 1
           ORDER BY e.captured_at, e.rowid""",
        [session_id],
    )
    frames = []
    for row in rows:
        text = json.loads(row["analysis_json"]).get("extractedText") or ""
        if isinstance(text, str) and text.strip():
            frames.append(Frame(row["id"], row["topic"], row["subtopic"], text))
    return frames


def uncarded_pages(db: sqlite_utils.Database, session_id: str, carded: set[str]) -> list[Page]:
    """The session's distinct pages not carded yet.

    Distinctness is judged over every page, carded or not, so a second pass sees the same
    pages as the first and cards only those the first left.
    """
    return [
        page for page in distinct_pages(study_frames(db, session_id)) if page.event_id not in carded
    ]
