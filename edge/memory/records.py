"""SQL for cards, their review logs and the pages already carded; plain functions on a db."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlite_utils

from edge.memory.models import ReviewCard
from edge.memory.port import CardDraft
from edge.memory.scheduler import RATINGS, Memory
from edge.sessions.records import topic_id
from shared.clock import from_iso, to_iso
from shared.memory import Rating

_NOT_WORD = re.compile(r"[\W_]+")


def question_key(question: str) -> str:
    """The question folded for sameness: case, compatibility forms, spacing, punctuation.

    Blanks of any length (`___`, `_____`) fold away with the punctuation, so two clozes of
    one sentence are the same question.
    """
    folded = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


_CARD_COLUMNS = """
    c.id, c.session_id, c.learning_event_id, t.name AS topic, st.name AS subtopic, c.kind,
    c.question, c.answer, c.maker, c.created_at, c.state, c.step, c.stability, c.difficulty,
    c.due, c.last_review
    FROM cards c
    JOIN topics t ON t.id = c.topic_id
    LEFT JOIN subtopics st ON st.id = c.subtopic_id
"""


def _time(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def _memory(row: sqlite3.Row) -> Memory:
    return Memory(
        state=row["state"],
        step=row["step"],
        stability=row["stability"],
        difficulty=row["difficulty"],
        due=from_iso(row["due"]),
        last_review=_time(row["last_review"]),
    )


def _card(row: sqlite3.Row) -> ReviewCard:
    memory = _memory(row)
    return ReviewCard(
        card_id=row["id"],
        session_id=row["session_id"],
        analysis_id=row["learning_event_id"],
        topic=row["topic"],
        subtopic=row["subtopic"],
        kind=row["kind"],
        question=row["question"],
        answer=row["answer"],
        maker=row["maker"],
        created_at=from_iso(row["created_at"]),
        state=memory.state_name,
        due=memory.due,
        last_review=memory.last_review,
        stability=memory.stability,
        difficulty=memory.difficulty,
    )


def _memory_columns(memory: Memory) -> dict[str, object]:
    return {
        "state": memory.state,
        "step": memory.step,
        "stability": memory.stability,
        "difficulty": memory.difficulty,
        "due": to_iso(memory.due),
        "last_review": to_iso(memory.last_review) if memory.last_review else None,
    }


def _subtopic_id(db: sqlite_utils.Database, topic: int, name: str) -> int:
    db.execute(
        "INSERT INTO subtopics (topic_id, name) VALUES (?, ?)"
        " ON CONFLICT (topic_id, name) DO NOTHING",
        [topic, name],
    )
    row = db.execute(
        "SELECT id FROM subtopics WHERE topic_id = ? AND name = ?", [topic, name]
    ).fetchone()
    return int(row["id"])


def insert_card(
    db: sqlite_utils.Database, session_id: str, draft: CardDraft, maker: str, at: datetime
) -> str | None:
    """Add a new card, due at once; None when a card already asks the same question."""
    key = question_key(draft.question)
    if not key:
        return None
    topic = topic_id(db, draft.topic)
    card_id = str(uuid.uuid4())
    cursor = db.execute(
        """INSERT INTO cards (id, session_id, learning_event_id, topic_id, subtopic_id, kind,
               question, question_key, answer, maker, created_at, state, step, stability,
               difficulty, due, last_review)
           VALUES (:id, :session_id, :event_id, :topic_id, :subtopic_id, :kind, :question,
               :key, :answer, :maker, :created_at, :state, :step, :stability, :difficulty,
               :due, :last_review)
           ON CONFLICT (question_key) DO NOTHING""",
        {
            "id": card_id,
            "session_id": session_id,
            "event_id": draft.event_id,
            "topic_id": topic,
            "subtopic_id": _subtopic_id(db, topic, draft.subtopic) if draft.subtopic else None,
            "kind": draft.kind,
            "question": draft.question,
            "key": key,
            "answer": draft.answer,
            "maker": maker,
            "created_at": to_iso(at),
            **_memory_columns(Memory.new(at)),
        },
    )
    return card_id if cursor.rowcount == 1 else None


def get_card(db: sqlite_utils.Database, card_id: str) -> ReviewCard | None:
    """One card by id."""
    row = db.execute(f"SELECT {_CARD_COLUMNS} WHERE c.id = ?", [card_id]).fetchone()
    return _card(row) if row else None


def card_memory(db: sqlite_utils.Database, card_id: str) -> Memory | None:
    """The FSRS state of one card."""
    row = db.execute(
        "SELECT state, step, stability, difficulty, due, last_review FROM cards WHERE id = ?",
        [card_id],
    ).fetchone()
    return _memory(row) if row else None


def record_review(
    db: sqlite_utils.Database,
    card_id: str,
    rating: Rating,
    at: datetime,
    after: Memory,
    duration_ms: int | None = None,
) -> None:
    """Keep the card's new state and one review-log row of the grade (caller's transaction)."""
    columns = _memory_columns(after)
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    db.execute(f"UPDATE cards SET {assignments} WHERE id = :id", {**columns, "id": card_id})  # noqa: S608
    db.table("review_logs").insert(
        {
            "id": str(uuid.uuid4()),
            "card_id": card_id,
            "rating": RATINGS[rating].value,
            "reviewed_at": to_iso(at),
            "review_duration_ms": duration_ms,
            **columns,
        }
    )


def due_cards(db: sqlite_utils.Database, now: datetime, limit: int) -> list[ReviewCard]:
    """Cards due by `now`, soonest first (the `cards_due` index answers it in order)."""
    rows = db.execute(
        f"SELECT {_CARD_COLUMNS} WHERE c.due <= ? ORDER BY c.due, c.id LIMIT ?",
        [to_iso(now), limit],
    )
    return [_card(row) for row in rows]


def count_due(db: sqlite_utils.Database, now: datetime) -> int:
    """How many cards are due by `now`."""
    row = db.execute("SELECT count(*) AS n FROM cards WHERE due <= ?", [to_iso(now)]).fetchone()
    return int(row["n"])


def count_reviews(db: sqlite_utils.Database, start: datetime, end: datetime) -> int:
    """Grades given in `[start, end)`."""
    row = db.execute(
        "SELECT count(*) AS n FROM review_logs WHERE reviewed_at >= ? AND reviewed_at < ?",
        [to_iso(start), to_iso(end)],
    ).fetchone()
    return int(row["n"])


def list_cards(db: sqlite_utils.Database, topic: str | None, limit: int) -> list[ReviewCard]:
    """Cards newest first, of one topic (any case) or of all."""
    where, params = ("WHERE t.name = ?", [topic]) if topic is not None else ("", [])
    rows = db.execute(
        f"SELECT {_CARD_COLUMNS} {where} ORDER BY c.created_at DESC, c.id LIMIT ?",
        [*params, limit],
    )
    return [_card(row) for row in rows]


def count_cards(db: sqlite_utils.Database, topic: str | None) -> int:
    """How many cards there are, of one topic (any case) or of all."""
    if topic is None:
        row = db.execute("SELECT count(*) AS n FROM cards").fetchone()
    else:
        row = db.execute(
            "SELECT count(*) AS n FROM cards c JOIN topics t ON t.id = c.topic_id WHERE t.name = ?",
            [topic],
        ).fetchone()
    return int(row["n"])


def delete_card(db: sqlite_utils.Database, card_id: str) -> bool:
    """Delete a card (its review logs go with it); whether there was one."""
    return db.execute("DELETE FROM cards WHERE id = ?", [card_id]).rowcount == 1


def session_cards(db: sqlite_utils.Database, card_ids: Iterable[str]) -> list[ReviewCard]:
    """These cards, in the order given."""
    found = [get_card(db, card_id) for card_id in card_ids]
    return [card for card in found if card is not None]


def carded_event_ids(db: sqlite_utils.Database, session_id: str) -> set[str]:
    """The pages of a session already carded."""
    rows = db.execute(
        "SELECT learning_event_id FROM carded_pages WHERE session_id = ?", [session_id]
    )
    return {row["learning_event_id"] for row in rows}


def mark_carded(
    db: sqlite_utils.Database,
    session_id: str,
    event_ids: Iterable[str],
    maker: str,
    at: datetime,
) -> None:
    """Note that these pages were carded, so no pass cards them again."""
    for event_id in event_ids:
        db.execute(
            "INSERT INTO carded_pages (learning_event_id, session_id, maker, carded_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (learning_event_id) DO NOTHING",
            [event_id, session_id, maker, to_iso(at)],
        )
