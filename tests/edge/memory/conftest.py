"""A migrated database and sessions of pages written the way the frame pipeline writes them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from edge.sessions import records as session_records
from edge.store import Store, transaction
from shared.analysis import FrameAnalysis
from shared.clock import to_iso
from tests.support import ZONE, berlin

#: When the test sessions start.
STARTED = berlin("2026-11-25 09:00")

MITOSIS = (
    "Mitosis is the division of a nucleus into two identical nuclei. "
    "During prophase the chromosomes condense and the spindle forms. "
    "In metaphase the chromosomes line up at the equator of the cell."
)
PHOTOSYNTHESIS = (
    "Photosynthesis takes place in the chloroplasts of plant cells. "
    "Chlorophyll absorbs light energy to make glucose from carbon dioxide and water."
)
ACIDS = (
    "An acid is a substance that donates protons in solution. "
    "Sulfuric acid H2SO4 reacts with sodium hydroxide in a neutralisation reaction."
)


@dataclass(frozen=True)
class PageSpec:
    """One frame of a test session."""

    text: str
    topic: str = "Biology"
    subtopic: str | None = "Cell division"
    outcome: str = "analysed"
    studying: bool = True


def add_session(
    db: sqlite_utils.Database, pages: Sequence[PageSpec | str], at: datetime = STARTED
) -> tuple[str, list[str]]:
    """An ended session with one learning event per page, a minute apart; its id and theirs."""
    session_id = str(uuid.uuid4())
    with transaction(db):
        day = session_records.ensure_day(
            db, session_records.local_user_id(db), at.astimezone(ZONE).date(), at
        )
        session_records.insert_session(db, session_id, day, at)
    event_ids = []
    for n, page in enumerate(pages):
        spec = PageSpec(page) if isinstance(page, str) else page
        analysis = FrameAnalysis(
            is_studying=spec.studying,
            is_active=False,
            is_distracted=False,
            topic=spec.topic,
            subtopic=spec.subtopic,
            extracted_text=spec.text,
        )
        event_id = str(uuid.uuid4())
        # The columns of the pipeline's rows that card making reads, written as it writes them.
        db.table("learning_events").insert(
            {
                "id": event_id,
                "session_id": session_id,
                "captured_at": to_iso(at + timedelta(minutes=n)),
                "outcome": spec.outcome,
                "source": "on-device",
                "analysis_json": analysis.model_dump_json(by_alias=True),
                "topic_id": session_records.topic_id(db, spec.topic),
                "is_studying": spec.studying,
                "is_active": False,
                "is_distracted": False,
            }
        )
        event_ids.append(event_id)
    end = at + timedelta(minutes=len(pages) + 1)
    with transaction(db):
        session_records.finish_session(db, session_id, end, "ended")
    return session_id, event_ids


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """The daemon's store on the test's database (the `db` fixture is the CLI's view of it)."""
    opened = Store(tmp_path / "studylens.db")
    await opened.open()
    yield opened
    await opened.close()


def add_events(
    db: sqlite_utils.Database, session_id: str, texts: Sequence[str], at: datetime = STARTED
) -> list[str]:
    """Biology study frames with these texts in an existing session, a minute apart."""
    ids = []
    for n, text in enumerate(texts):
        analysis = FrameAnalysis(
            is_studying=True,
            is_active=False,
            is_distracted=False,
            topic="Biology",
            subtopic=None,
            extracted_text=text,
        )
        event_id = str(uuid.uuid4())
        db.table("learning_events").insert(
            {
                "id": event_id,
                "session_id": session_id,
                "captured_at": to_iso(at + timedelta(minutes=n)),
                "outcome": "analysed",
                "source": "on-device",
                "analysis_json": analysis.model_dump_json(by_alias=True),
                "topic_id": session_records.topic_id(db, "Biology"),
                "is_studying": True,
                "is_active": False,
                "is_distracted": False,
            }
        )
        ids.append(event_id)
    return ids
