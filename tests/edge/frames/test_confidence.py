"""The analyser's confidence is kept with each event: stored, read back, and never malformed."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from edge.frames import records
from edge.frames.normalise import normalise_confidence
from edge.frames.records import FrameEvent
from edge.store import open_database
from edge.store.migrations import MIGRATIONS, migrate
from edge.vision.port import ModelAnswer
from shared.analysis import FrameAnalysis
from tests.fakes import images
from tests.fakes.openai_peer import DEFAULT_ANALYSIS
from tests.support import AppClient, StartApp, berlin, data_of, services_of, start_session, upload

ANALYSIS = FrameAnalysis.model_validate(DEFAULT_ANALYSIS)


class Scripted:
    """An analyser that answers every frame with the default analysis and a set confidence."""

    def __init__(self, confidence: Any) -> None:
        self.confidence = confidence

    async def analyse(self, jpeg: bytes) -> ModelAnswer:
        """The same answer, whatever the frame."""
        return ModelAnswer(json.dumps(DEFAULT_ANALYSIS), "on-device", confidence=self.confidence)

    async def close(self) -> None:
        """Nothing to release."""


async def with_analyser(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch, confidence: Any
) -> AppClient:
    """The daemon with `Scripted(confidence)` as its analyser."""
    analyser = Scripted(confidence)
    monkeypatch.setattr("edge.app.make_vision", lambda settings, metrics=None: analyser)
    return await start_app()


async def stored(client: AppClient) -> list[tuple[str, Any]]:
    """(outcome, confidence) of every learning event, in the order they came."""
    return await services_of(client).store.run(
        lambda db: [
            (row["outcome"], row["confidence"])
            for row in db.query("SELECT outcome, confidence FROM learning_events ORDER BY rowid")
        ]
    )


# --- the rule: what may be stored -------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 0.0, 0.42, 1, 1.0])
def test_a_confidence_in_range_is_kept_as_a_float(value: float) -> None:
    """0..1, ends included, is kept as it is (as a float)."""
    kept = normalise_confidence(value)
    assert kept == value
    assert isinstance(kept, float)


@pytest.mark.parametrize(
    "value",
    [None, -0.01, 1.0001, 7, math.nan, math.inf, -math.inf, True, False, "0.5", b"1", [0.5]],
    ids=repr,
)
def test_anything_else_is_unknown(value: object) -> None:
    """Out of range, not finite, a bool or not a number at all: no confidence (None)."""
    assert normalise_confidence(value) is None


# --- the column -------------------------------------------------------------------------------


def a_session(db: sqlite_utils.Database) -> str:
    """A day and a running session to hang events on; the session's id."""
    db.execute(
        "INSERT INTO session_days (id, user_id, local_date, created_at)"
        " SELECT 'day', id, '2026-11-25', '2026-11-25T08:00:00.000Z' FROM users LIMIT 1"
    )
    db.execute(
        "INSERT INTO sessions (id, day_id, started_at, last_activity_at)"
        " VALUES ('session', 'day', '2026-11-25T08:00:00.000Z', '2026-11-25T08:00:00.000Z')"
    )
    return "session"


def event(session_id: str, confidence: Any, event_id: str = "e1") -> FrameEvent:
    """An analysed event of the session with this confidence."""
    return FrameEvent(
        event_id=event_id,
        session_id=session_id,
        captured_at=berlin("2026-11-25 09:00"),
        image_key=None,
        outcome="analysed",
        source="on-device",
        analysis=ANALYSIS,
        confidence=confidence,
    )


def test_the_column_holds_what_the_event_says(tmp_path: Path) -> None:
    """An event's confidence is its row's; an event without one stores NULL."""
    db = open_database(tmp_path / "a.db")
    session_id = a_session(db)
    records.save_event(db, event(session_id, 0.625, "sure"))
    records.save_event(db, event(session_id, None, "unsure"))
    rows = dict(db.execute("SELECT id, confidence FROM learning_events").fetchall())
    assert rows == {"sure": 0.625, "unsure": None}


@pytest.mark.parametrize("value", [1.5, -0.1, math.inf, "high", "0.5x", b"\x01"], ids=repr)
def test_the_column_refuses_a_malformed_confidence(tmp_path: Path, value: Any) -> None:
    """Whatever path writes it, a value outside 0..1 or not a number is refused by SQLite."""
    db = open_database(tmp_path / "a.db")
    session_id = a_session(db)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        records.save_event(db, event(session_id, value))
    assert db.table("learning_events").count == 0


def test_rows_from_before_the_column_stay_valid_as_null(tmp_path: Path) -> None:
    """An event stored before migration 0009 is kept, with confidence NULL."""
    db = sqlite_utils.Database(tmp_path / "old.db")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    before = MIGRATIONS[: [name for name, _ in MIGRATIONS].index("0009_event_confidence")]
    for name, step in before:
        step(db)
        db.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
    session_id = a_session(db)
    db.table("learning_events").insert(
        {"id": "old", "session_id": session_id, "captured_at": "2026-11-25T09:00:00.000Z"}
        | {"outcome": "analysed", "source": "gpt-4.1", "analysis_json": ANALYSIS.model_dump_json()}
    )
    assert migrate(db)[0] == "0009_event_confidence"
    row = db.execute("SELECT id, source, confidence FROM learning_events").fetchone()
    assert tuple(row) == ("old", "gpt-4.1", None)


# --- through the pipeline ---------------------------------------------------------------------


async def test_a_stored_event_has_the_confidence_the_analyser_gave(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.83 from the analyser is 0.83 in the row, the answer and the recent frames."""
    client = await with_analyser(start_app, monkeypatch, 0.83)
    answer = await upload(client, images.jpeg(seed=1), await start_session(client))
    assert answer["confidence"] == 0.83
    assert await stored(client) == [("analysed", 0.83)]
    [frame] = (await data_of(await client.get("/api/frames/recent")))["frames"]
    assert (frame["analysisId"], frame["source"], frame["confidence"]) == (
        answer["analysisId"],
        "on-device",
        0.83,
    )


async def test_a_reused_frame_keeps_the_confidence_of_its_analysis(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unchanged view is answered from the last analysis, confidence and all."""
    client = await with_analyser(start_app, monkeypatch, 0.4)
    session_id = await start_session(client)
    frame = images.jpeg(seed=2)
    await upload(client, frame, session_id)
    again = await upload(client, frame, session_id)
    assert (again["reused"], again["confidence"]) == (True, 0.4)
    assert await stored(client) == [("analysed", 0.4), ("reused", 0.4)]


@pytest.mark.parametrize("value", [1.7, -0.2, math.nan, "very", True], ids=repr)
async def test_a_malformed_confidence_is_stored_as_unknown_and_the_frame_counts(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch, value: Any
) -> None:
    """A broken analyser's confidence is dropped, not written; the frame still counts."""
    client = await with_analyser(start_app, monkeypatch, value)
    answer = await upload(client, images.jpeg(seed=3), await start_session(client))
    assert answer["confidence"] is None
    assert await stored(client) == [("analysed", None)]
    counted = await services_of(client).store.run(
        lambda db: [
            row["name"]
            for row in db.query(
                "SELECT t.name FROM topic_segments g JOIN topics t ON t.id = g.topic_id"
            )
        ]
    )
    assert counted == [ANALYSIS.topic]


async def test_an_openai_answer_without_confidence_stores_null(
    vision_client: AppClient,
) -> None:
    """The model says nothing of its confidence: the row and the recent frames hold null."""
    answer = await upload(vision_client, images.jpeg(seed=4), await start_session(vision_client))
    assert answer["source"] != "on-device"
    assert answer["confidence"] is None
    assert await stored(vision_client) == [("analysed", None)]
    [frame] = (await data_of(await vision_client.get("/api/frames/recent")))["frames"]
    assert frame["confidence"] is None
