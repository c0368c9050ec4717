"""Card and review routes: making a session's cards, the due queue, grading, list, delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from edge.settings import EdgeSettings
from tests.edge.memory.conftest import (
    ACIDS,
    MITOSIS,
    PHOTOSYNTHESIS,
    PageSpec,
    add_events,
    add_session,
)
from tests.fakes.openai_peer import FakeOpenAI, Reply
from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    data_of,
    error_of,
    services_of,
    start_session,
)


async def ended_session(client: AppClient, pages: list[PageSpec | str]) -> str:
    """An ended session of these pages, written straight into the app's database."""
    session_id, _ = await services_of(client).store.run(lambda db: add_session(db, pages))
    return session_id


async def carded(client: AppClient) -> list[dict[str, Any]]:
    """The cards of one session made over HTTP."""
    session_id = await ended_session(client, [MITOSIS, PHOTOSYNTHESIS])
    made = await data_of(await client.post(f"/api/session/{session_id}/cards"))
    cards: list[dict[str, Any]] = made["cards"]
    assert cards
    return cards


async def test_making_a_sessions_cards_answers_them(owner: AppClient) -> None:
    """Without a key, the cards are on-device clozes of the session's pages."""
    session_id = await ended_session(owner, [MITOSIS])

    made = await data_of(await owner.post(f"/api/session/{session_id}/cards"))

    assert made["maker"] == "on-device"
    assert made["pagesCarded"] == 1
    assert {card["kind"] for card in made["cards"]} == {"cloze"}


async def test_making_them_again_makes_none(owner: AppClient) -> None:
    """A second request over the same session cards nothing new."""
    session_id = await ended_session(owner, [MITOSIS])
    await data_of(await owner.post(f"/api/session/{session_id}/cards"))

    again = await data_of(await owner.post(f"/api/session/{session_id}/cards"))

    assert (again["cards"], again["pagesCarded"]) == ([], 0)


async def test_cards_of_an_unknown_session_are_404(owner: AppClient) -> None:
    """A made-up session id is session_not_found."""
    answer = await owner.post(f"/api/session/{uuid.uuid4()}/cards")

    assert (await error_of(answer, 404))["code"] == "session_not_found"


@pytest.mark.parametrize(
    ("body", "code"), [(b"{not json", "invalid_json"), (b"[1, 2]", "invalid_request")]
)
async def test_a_malformed_card_request_body_is_400(
    owner: AppClient, body: bytes, code: str
) -> None:
    """The body, optional, must be a JSON object when sent."""
    session_id = await ended_session(owner, [MITOSIS])

    answer = await owner.post(f"/api/session/{session_id}/cards", data=body)

    assert (await error_of(answer, 400))["code"] == code


async def test_the_due_queue_answers_new_cards_and_progress(owner: AppClient) -> None:
    """New cards are due at once; the queue counts them and nothing reviewed yet."""
    cards = await carded(owner)

    due = await data_of(await owner.get("/api/review/due?limit=1"))

    assert (due["dueCount"], len(due["cards"])) == (len(cards), 1)
    assert due["progress"]["reviewedToday"] == 0


@pytest.mark.parametrize("limit", ["0", "101", "abc", "1.5", "-1", "²", "", "9" * 40])
async def test_a_due_limit_out_of_range_is_400(owner: AppClient, limit: str) -> None:
    """`limit` is a whole number from 1 to 100."""
    answer = await owner.get("/api/review/due", params={"limit": limit})

    assert (await error_of(answer, 400))["code"] == "invalid_request"


async def test_grading_schedules_the_card_and_counts_today(
    owner: AppClient, clock: FakeClock
) -> None:
    """`good` on a new card: due in ten minutes, out of the queue, one reviewed today."""
    [card, *_] = await carded(owner)

    graded = await data_of(
        await owner.post(f"/api/review/{card['cardId']}/grade", json={"rating": "good"})
    )

    assert graded["card"]["state"] == "learning"
    assert graded["progress"]["reviewedToday"] == 1
    due = await data_of(await owner.get("/api/review/due"))
    assert card["cardId"] not in [c["cardId"] for c in due["cards"]]


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "perfect"},
        {"rating": 3},
        {"rating": None},
        {},
        {"rating": "good", "reviewDurationMs": -1},
        {"rating": "good", "reviewDurationMs": 3_600_001},
        {"rating": "good", "reviewDurationMs": "fast"},
    ],
)
async def test_a_bad_grade_is_400(owner: AppClient, body: dict[str, Any]) -> None:
    """Only again, hard, good or easy, with an optional duration of 0 to an hour."""
    [card, *_] = await carded(owner)

    answer = await owner.post(f"/api/review/{card['cardId']}/grade", json=body)

    assert (await error_of(answer, 400))["code"] == "invalid_request"


async def test_a_grade_that_is_not_json_is_400(owner: AppClient) -> None:
    """Malformed JSON is invalid_json."""
    [card, *_] = await carded(owner)

    answer = await owner.post(f"/api/review/{card['cardId']}/grade", data=b'{"rating": "go')

    assert (await error_of(answer, 400))["code"] == "invalid_json"


async def test_an_oversized_grade_is_413(owner: AppClient, settings: EdgeSettings) -> None:
    """A body past `max_json_body_bytes` is refused before it is parsed."""
    [card, *_] = await carded(owner)
    huge = b'{"rating": "good", "x": "' + b"a" * settings.limits.max_json_body_bytes + b'"}'

    answer = await owner.post(f"/api/review/{card['cardId']}/grade", data=huge)

    assert answer.status == 413


@pytest.mark.parametrize("card_id", ["no-such-card", "x" * 500])
async def test_grading_an_unknown_card_is_404(owner: AppClient, card_id: str) -> None:
    """Made-up ids, short or absurdly long, are card_not_found."""
    answer = await owner.post(f"/api/review/{card_id}/grade", json={"rating": "good"})

    assert (await error_of(answer, 404))["code"] == "card_not_found"


async def test_cards_are_listed_by_topic_in_any_case(owner: AppClient) -> None:
    """`topic=chemistry` lists the Chemistry cards only."""
    session_id = await ended_session(owner, [MITOSIS, PageSpec(ACIDS, topic="Chemistry")])
    await data_of(await owner.post(f"/api/session/{session_id}/cards"))

    listed = await data_of(await owner.get("/api/cards", params={"topic": "chemistry"}))

    assert listed["total"] == len(listed["cards"]) > 0
    assert {card["topic"] for card in listed["cards"]} == {"Chemistry"}


@pytest.mark.parametrize("query", [{"topic": "x" * 65}, {"limit": "0"}, {"limit": "1001"}])
async def test_a_bad_card_list_query_is_400(owner: AppClient, query: dict[str, str]) -> None:
    """A topic longer than any topic, or a limit out of 1 to 1000."""
    answer = await owner.get("/api/cards", params=query)

    assert (await error_of(answer, 400))["code"] == "invalid_request"


async def test_a_deleted_card_is_gone_and_deleting_it_again_is_404(owner: AppClient) -> None:
    """DELETE answers the id; the card is no longer listed; a second DELETE is 404."""
    [card, *_] = await carded(owner)

    gone = await data_of(await owner.delete(f"/api/cards/{card['cardId']}"))

    assert gone == {"cardId": card["cardId"], "deleted": True}
    listed = await data_of(await owner.get("/api/cards"))
    assert card["cardId"] not in [c["cardId"] for c in listed["cards"]]
    again = await owner.delete(f"/api/cards/{card['cardId']}")
    assert (await error_of(again, 404))["code"] == "card_not_found"


async def add_pages_to(client: AppClient, session_id: str, texts: list[str]) -> None:
    """Study frames in a running session, as the pipeline would have stored them."""
    await services_of(client).store.run(lambda db: add_events(db, session_id, texts))


async def test_an_ended_session_gets_its_cards_in_the_background(owner: AppClient) -> None:
    """POST .../end answers at once; the cards appear afterwards without a request."""
    session_id = await start_session(owner)
    await add_pages_to(owner, session_id, [MITOSIS])

    await data_of(await owner.post(f"/api/session/{session_id}/end"))
    async with asyncio.timeout(5):
        await services_of(owner).card_worker.idle()

    assert (await data_of(await owner.get("/api/cards")))["cards"]


async def test_the_end_answers_while_the_model_is_still_making_cards(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """With a key, the card call is held open; the session's end has answered regardless."""
    client = await start_app(
        as_owner=True,
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
    )
    release = asyncio.Event()
    openai_peer.queue(Reply(hold=release))
    session_id = await start_session(client)
    await add_pages_to(client, session_id, [MITOSIS])

    async with asyncio.timeout(5):
        await data_of(await client.post(f"/api/session/{session_id}/end"))
        await openai_peer.holding.wait()
    release.set()
    async with asyncio.timeout(5):
        await services_of(client).card_worker.idle()

    assert (await data_of(await client.get("/api/cards")))["cards"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/review/due"),
        ("POST", "/api/review/some-card/grade"),
        ("GET", "/api/cards"),
        ("DELETE", "/api/cards/some-card"),
        ("POST", "/api/session/some-session/cards"),
    ],
)
async def test_a_paired_phone_may_not_review(client: AppClient, method: str, path: str) -> None:
    """The review routes are the owner's: a phone's token gets 403 (the tutor reviews by voice)."""
    answer = await client.request(method, path, json={"rating": "good"})

    assert (await error_of(answer, 403))["code"] == "forbidden"
