"""The fake Responses API holds its answers to the SDK's models, strictly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_peer import FakeOpenAI, Reply, response_body


@pytest.fixture
async def own_peer() -> AsyncIterator[FakeOpenAI]:
    """A peer of the test's own: the shared fixture would fail the test on what this one sends."""
    peer = FakeOpenAI()
    await peer.start()
    yield peer
    await peer.stop()


async def ask(peer: FakeOpenAI) -> None:
    """One Responses call through the real SDK."""
    client = AsyncOpenAI(api_key="sk-test-not-a-real-key", base_url=peer.base_url, max_retries=0)
    async with client:
        await client.responses.create(model="gpt-4.1", input="hello")


async def test_the_peers_own_answer_is_exactly_what_the_sdk_declares(own_peer: FakeOpenAI) -> None:
    """A normal answer validates strictly against the SDK's `Response`."""
    await ask(own_peer)
    own_peer.assert_valid()


async def test_an_answer_with_a_key_the_sdk_does_not_declare_fails_assert_valid(
    own_peer: FakeOpenAI,
) -> None:
    """An undeclared key (the live API's `store`) is reported by path."""
    own_peer.queue(Reply(body=response_body("{}") | {"store": False}))
    await ask(own_peer)
    with pytest.raises(AssertionError, match=r"response: store: Extra inputs are not permitted"):
        own_peer.assert_valid()


async def test_an_answer_missing_a_required_key_fails_assert_valid(own_peer: FakeOpenAI) -> None:
    """A key the SDK requires, missing deep inside (`usage...cache_write_tokens`), is reported."""
    body = response_body("{}")
    body["usage"]["input_tokens_details"] = {"cached_tokens": 0}
    own_peer.queue(Reply(body=body))
    await ask(own_peer)
    with pytest.raises(AssertionError, match=r"input_tokens_details\.cache_write_tokens"):
        own_peer.assert_valid()
