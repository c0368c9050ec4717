"""'Quiz me on today's biology', through the daemon: the tutor's tools on the edge's own data.

The phone talks over the daemon's voice socket; the fake Realtime peer plays the model and calls
the tools as the real API would; the edge answers from its store and the grade is a review.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from edge.memory import records
from edge.memory.port import CardDraft
from tests.edge.memory.conftest import MITOSIS, PageSpec, add_session
from tests.edge.voice.voice_support import eventually, started
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import services_of

AppClient = TestClient[Any, Any]


async def seed_card(client: AppClient, question: str, topic: str = "Biology") -> str:
    """A due card in the daemon's store; its id."""

    def add(db: Any) -> str:
        session_id, [event] = add_session(db, [PageSpec(MITOSIS, topic=topic)])
        draft = CardDraft(event, topic, None, "qa", question, "four phases")
        card_id = records.insert_card(
            db, session_id, draft, "test", services_of(client).clock.now()
        )
        assert card_id is not None
        return card_id

    return await services_of(client).store.run(add)


def spoken(peer: FakeRealtime) -> int:
    """Responses that ended with the tutor speaking."""
    return sum(1 for r in peer.responses if r["output"] and r["output"][0]["type"] == "message")


def outputs(peer: FakeRealtime) -> list[Any]:
    """The tool outputs the peer accepted, decoded."""
    return [json.loads(o["output"]) for o in peer.function_outputs]


async def test_a_quiz_by_voice_asks_the_due_card_and_grades_it(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """next_review_card gives the biology card; grade_review_card makes it a review."""
    card_id = await seed_card(voice_client, "How many phases has mitosis?")
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await realtime_peer.wait_for(lambda: bool(realtime_peer.session_updates))
        tools = [t["name"] for t in realtime_peer.session_updates[0]["tools"]]

        await realtime_peer.call_function("next_review_card", '{"topic": "Biology"}')
        await eventually(lambda: spoken(realtime_peer) == 1, what="the tutor asked")
        await realtime_peer.call_function(
            "grade_review_card", json.dumps({"card_id": card_id, "rating": "good"})
        )
        await realtime_peer.wait_for(lambda: len(realtime_peer.function_outputs) == 2)

    asked, graded = outputs(realtime_peer)
    assert tools == ["next_review_card", "grade_review_card", "study_summary", "bookmark_this_page"]
    assert (asked["cardId"], asked["question"]) == (card_id, "How many phases has mitosis?")
    assert (graded["cardId"], graded["rating"], graded["reviewedToday"]) == (card_id, "good", 1)
    reviews = await services_of(voice_client).store.run(
        lambda db: db.execute(
            "SELECT count(*) AS n FROM review_logs WHERE card_id = ?", [card_id]
        ).fetchone()["n"]
    )
    assert reviews == 1
