"""The model's card maker against the loopback Responses peer, through the real SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from edge.memory.openai_cards import OpenAICards, output_token_cap
from edge.memory.port import (
    CardModelBadOutput,
    CardModelRateLimited,
    CardModelUnavailable,
    Page,
)
from tests.edge.memory.conftest import ACIDS, MITOSIS
from tests.fakes.openai_peer import FakeOpenAI, Reply, refusal_body, response_body

PAGES = [
    Page("event-1", "Biology", "Cell division", MITOSIS),
    Page("event-2", "Chemistry", None, ACIDS),
]


@pytest.fixture
async def maker(openai_peer: FakeOpenAI) -> AsyncIterator[OpenAICards]:
    """The maker on the peer; SDK retries on, one quick retry."""
    client = AsyncOpenAI(
        api_key="sk-test-not-a-real-key", base_url=openai_peer.base_url, max_retries=1
    )
    made = OpenAICards(client, model="gpt-4.1")
    yield made
    await made.close()


async def test_one_call_makes_the_cards_of_every_page(
    maker: OpenAICards, openai_peer: FakeOpenAI
) -> None:
    """Both pages in one request; each card tied to its page's event, topic and subtopic."""
    drafts = await maker.make(PAGES, limit=8)

    assert len(openai_peer.requests) == 1
    assert [(d.event_id, d.topic, d.subtopic) for d in drafts] == [
        ("event-1", "Biology", "Cell division"),
        ("event-2", "Chemistry", None),
    ]


async def test_the_request_is_text_only_unstored_strict_and_capped(
    maker: OpenAICards, openai_peer: FakeOpenAI
) -> None:
    """Store false, a strict JSON schema, an output cap, and no image among the input."""
    await maker.make(PAGES, limit=5)

    [sent] = openai_peer.requests
    assert sent["store"] is False
    assert sent["text"]["format"]["strict"] is True
    assert sent["max_output_tokens"] == output_token_cap(5)
    assert "input_image" not in json.dumps(sent["input"])
    assert MITOSIS in sent["input"][0]["content"]


async def test_no_more_cards_than_the_limit_are_kept(
    maker: OpenAICards, openai_peer: FakeOpenAI
) -> None:
    """A model that writes more cards than asked has the extra ones dropped."""
    openai_peer.cards = [
        {"page": 1, "kind": "qa", "question": f"Question {n}?", "answer": "a"} for n in range(6)
    ]

    assert len(await maker.make(PAGES, limit=3)) == 3


@pytest.mark.parametrize(
    "body",
    [
        response_body('{"cards": [{"page": 1, "kind": "qa"'),  # cut short
        response_body('{"cards": [{"page": 1, "kind": "essay", "question": "q", "answer": "a"}]}'),
        response_body('{"cards": [{"page": 9, "kind": "qa", "question": "q", "answer": "a"}]}'),
        response_body('{"cards": [{"page": 1, "kind": "qa", "question": " ", "answer": "a"}]}'),
        refusal_body(),
        response_body("", status="incomplete", reason="max_output_tokens"),
    ],
    ids=["invalid-json", "unknown-kind", "unknown-page", "blank-question", "refusal", "incomplete"],
)
async def test_output_off_the_schema_is_bad_output(
    maker: OpenAICards, openai_peer: FakeOpenAI, body: dict[str, object]
) -> None:
    """Malformed answers, refusals and cut-off answers make no cards: CardModelBadOutput."""
    openai_peer.queue(Reply(body=body))

    with pytest.raises(CardModelBadOutput):
        await maker.make(PAGES, limit=8)


async def test_a_rate_limit_after_the_retries_is_rate_limited(
    maker: OpenAICards, openai_peer: FakeOpenAI
) -> None:
    """429 on the call and its retry: CardModelRateLimited (503)."""
    openai_peer.queue(Reply(status=429), Reply(status=429))

    with pytest.raises(CardModelRateLimited):
        await maker.make(PAGES, limit=8)


async def test_a_provider_failure_after_the_retries_is_unavailable(
    maker: OpenAICards, openai_peer: FakeOpenAI
) -> None:
    """500 on the call and its retry: CardModelUnavailable."""
    openai_peer.queue(Reply(status=500), Reply(status=500))

    with pytest.raises(CardModelUnavailable):
        await maker.make(PAGES, limit=8)


async def test_one_500_is_retried_by_the_sdk(maker: OpenAICards, openai_peer: FakeOpenAI) -> None:
    """A single 500 costs a retry, not the cards."""
    openai_peer.queue(Reply(status=500))

    assert len(await maker.make(PAGES, limit=8)) == 2
    assert len(openai_peer.requests) == 2


async def test_the_peer_refuses_a_card_request_off_the_sdks_request_type() -> None:
    """A card request with a key `responses.create` does not take is reported by the peer."""
    peer = FakeOpenAI()
    await peer.start()
    try:
        client = AsyncOpenAI(
            api_key="sk-test-not-a-real-key", base_url=peer.base_url, max_retries=0
        )
        async with client:
            await client.responses.create(
                model="gpt-4.1",
                input="hello",
                text={"format": {"type": "json_schema", "name": "review_cards", "schema": {}}},
                extra_body={"temperature_of_the_room": 21},
            )
        with pytest.raises(AssertionError, match="temperature_of_the_room"):
            peer.assert_valid()
    finally:
        await peer.stop()
