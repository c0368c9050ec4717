"""The card tables as records.py reads and writes them: question keys, subtopics, read-back."""

from __future__ import annotations

import fsrs
import pytest
import sqlite_utils

from edge.memory import records
from edge.memory.port import CardDraft
from edge.memory.scheduler import Memory, Scheduler
from tests.edge.memory.conftest import MITOSIS, add_session
from tests.support import berlin

NOW = berlin("2026-11-25 10:00")


def add_card(db: sqlite_utils.Database, subtopic: str | None = None) -> str:
    """One Biology card on a page of a new session, made at NOW; its id."""
    session_id, [event] = add_session(db, [MITOSIS])
    draft = CardDraft(event, "Biology", subtopic, "qa", "What is mitosis?", "Nuclear division")
    card_id = records.insert_card(db, session_id, draft, "test", NOW)
    assert card_id is not None
    return card_id


@pytest.mark.parametrize(
    ("question", "key"),
    [
        ("What is ___ mitosis?", "what is mitosis"),
        ("  MITOSIS,\tprophase… ", "mitosis prophase"),
    ],
    ids=["blank-and-mark", "spacing-and-edges"],
)
def test_a_question_key_is_its_folded_words_one_space_apart(question: str, key: str) -> None:
    """The stored key: case folded, words joined by single spaces, nothing at the ends.

    The key is kept in `cards.question_key`, so its form must not drift: a new form would let
    a question already stored in the old one in again.
    """
    assert records.question_key(question) == key


def test_a_card_keeps_the_subtopic_of_its_draft(db: sqlite_utils.Database) -> None:
    """The draft's subtopic is stored (a subtopics row of the card's topic) and read back."""
    card_id = add_card(db, subtopic="Cell division")

    card = records.get_card(db, card_id)

    assert card is not None
    assert card.subtopic == "Cell division"


def test_an_unknown_card_id_reads_as_none(db: sqlite_utils.Database) -> None:
    """A made-up id is no card, not an error."""
    add_card(db)

    assert records.get_card(db, "no-such-card") is None


def test_a_graded_card_reads_back_with_its_last_review(db: sqlite_utils.Database) -> None:
    """After a grade is recorded, the card says when it was last reviewed."""
    card_id = add_card(db)
    after = Scheduler(fsrs.Scheduler(enable_fuzzing=False)).review(Memory.new(NOW), "good", NOW)
    records.record_review(db, card_id, "good", NOW, after)

    card = records.get_card(db, card_id)

    assert card is not None
    assert card.last_review == NOW
