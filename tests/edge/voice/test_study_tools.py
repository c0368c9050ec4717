"""The tutor's study tools, run as the model calls them, on a real store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import fsrs
import pytest

from edge.bookmarks import session_bookmarks
from edge.memory import records
from edge.memory.port import CardDraft
from edge.memory.review import ReviewService
from edge.memory.scheduler import Scheduler
from edge.store import Store
from edge.voice.study_tools import study_toolbox
from edge.voice.tools import Toolbox
from tests.edge.memory.conftest import ACIDS, MITOSIS, PageSpec, add_session
from tests.support import ZONE, berlin

NOW = berlin("2026-11-25 10:00")


class FixedClock:
    """Always NOW."""

    def now(self) -> datetime:
        """NOW."""
        return NOW


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An open, migrated store."""
    opened = Store(tmp_path / "studylens.db")
    await opened.open()
    yield opened
    await opened.close()


async def session_with_cards(store: Store) -> tuple[str, dict[str, str]]:
    """A session of a biology and a chemistry page, one card each; ids by topic."""

    def make(db: Any) -> tuple[str, dict[str, str]]:
        session_id, (bio, chem) = add_session(
            db, [PageSpec(MITOSIS), PageSpec(ACIDS, topic="Chemistry", subtopic=None)]
        )
        cards = {}
        for event, topic, question in (
            (bio, "Biology", "What is mitosis?"),
            (chem, "Chemistry", "What is an acid?"),
        ):
            draft = CardDraft(event, topic, None, "qa", question, "an answer")
            card_id = records.insert_card(db, session_id, draft, "test", NOW)
            assert card_id is not None
            cards[topic] = card_id
        return session_id, cards

    return await store.run(make)


def toolbox(store: Store, session_id: str) -> Toolbox:
    """The tools of a voice session of `session_id`, at NOW."""
    review = ReviewService(
        store,
        Scheduler(fsrs.Scheduler(enable_fuzzing=False)),
        FixedClock(),
        ZONE,
        linked=lambda: False,
    )
    return study_toolbox(session_id, store=store, clock=FixedClock(), zone=ZONE, review=review)


async def call(tools: Toolbox, name: str, **arguments: Any) -> Any:
    """One call, its output decoded."""
    return json.loads(await tools.call(name, json.dumps(arguments)))


async def test_the_next_card_of_a_topic_is_that_topics(store: Store) -> None:
    """'Quiz me on biology': the due biology card, with its answer for the tutor."""
    session_id, cards = await session_with_cards(store)

    card = await call(toolbox(store, session_id), "next_review_card", topic="biology")

    assert (card["cardId"], card["question"], card["answer"]) == (
        cards["Biology"],
        "What is mitosis?",
        "an answer",
    )
    assert card["dueLeft"] == 2


async def test_no_card_of_a_topic_says_so(store: Store) -> None:
    """A topic with nothing due answers a null card, not an error."""
    session_id, _ = await session_with_cards(store)

    card = await call(toolbox(store, session_id), "next_review_card", topic="Math")

    assert card == {"cardId": None, "topic": "Math", "dueLeft": 2}


async def test_grading_by_voice_is_a_review(store: Store) -> None:
    """The grade goes through the review service: a log row, the card no longer due."""
    session_id, cards = await session_with_cards(store)
    tools = toolbox(store, session_id)

    graded = await call(tools, "grade_review_card", card_id=cards["Biology"], rating="good")
    following = await call(tools, "next_review_card")

    assert (graded["rating"], graded["reviewedToday"], graded["dueLeft"]) == ("good", 1, 1)
    assert following["cardId"] == cards["Chemistry"]


async def test_grading_an_unknown_card_is_an_error_output(store: Store) -> None:
    """A card id the model made up is refused with the domain's code."""
    session_id, _ = await session_with_cards(store)

    output = await call(
        toolbox(store, session_id), "grade_review_card", card_id="nope", rating="good"
    )

    assert output["error"]["code"] == "card_not_found"


async def test_a_bad_rating_is_an_error_output(store: Store) -> None:
    """Only again, hard, good and easy are grades."""
    session_id, cards = await session_with_cards(store)

    output = await call(
        toolbox(store, session_id), "grade_review_card", card_id=cards["Biology"], rating="great"
    )

    assert output["error"]["code"] == "bad_arguments"


async def test_bookmarking_marks_the_latest_page_of_the_session(store: Store) -> None:
    """'Bookmark this': the session's newest analysed frame, with the note."""
    session_id, _ = await session_with_cards(store)

    saved = await call(toolbox(store, session_id), "bookmark_this_page", note="ask about pH")
    marks = await store.run(lambda db: session_bookmarks(db, session_id))

    assert saved["page"] is True
    [mark] = marks.bookmarks
    assert (mark.bookmark_id, mark.note) == (saved["bookmarkId"], "ask about pH")
    latest = await store.run(
        lambda db: db.execute(
            "SELECT id FROM learning_events WHERE session_id = ? ORDER BY captured_at DESC",
            [session_id],
        ).fetchone()["id"]
    )
    assert mark.analysis_id == latest


async def test_the_summary_is_the_analytics_of_the_period(store: Store) -> None:
    """Today and the week, in minutes, from the same analytics the dashboard shows."""
    session_id, _ = await session_with_cards(store)
    tools = toolbox(store, session_id)

    today = await call(tools, "study_summary", period="today")
    week = await call(tools, "study_summary", period="week")

    assert today["period"] == "today"
    assert (week["period"], week["to"]) == ("week", "2026-11-25")
    assert week["from"] == "2026-11-19"


async def test_an_unknown_period_is_an_error_output(store: Store) -> None:
    """Only today and week."""
    session_id, _ = await session_with_cards(store)

    output = await call(toolbox(store, session_id), "study_summary", period="year")

    assert output["error"]["code"] == "bad_arguments"
