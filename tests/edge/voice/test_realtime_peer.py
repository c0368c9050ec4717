"""The fake Realtime peer holds its own events to the SDK's server-event models, strictly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.edge.voice.voice_support import peer_connect
from tests.fakes.realtime_peer import (
    SERVER_EVENT,
    FakeRealtime,
    default_session,
    validation_problems,
)


@pytest.fixture
async def own_peer() -> AsyncIterator[FakeRealtime]:
    """A peer of the test's own: the shared fixture would fail the test on what this one sends."""
    peer = FakeRealtime()
    await peer.start()
    yield peer
    await peer.stop()


def session_created(session: dict[str, object]) -> str:
    """A `session.created` event as JSON."""
    return json.dumps({"type": "session.created", "event_id": "event_1", "session": session})


def test_the_peers_session_is_exactly_what_the_sdk_declares() -> None:
    """`session.created` as the peer sends it validates strictly against the SDK's models."""
    assert validation_problems(session_created(default_session("gpt-realtime")), SERVER_EVENT) == []


def test_a_session_field_the_sdk_does_not_declare_is_a_problem() -> None:
    """An undeclared key deep in a server event (`session.expires_at`) is named as extra."""
    session = default_session("gpt-realtime") | {"expires_at": 1_800_000_000}
    problems = validation_problems(session_created(session), SERVER_EVENT)
    assert len(problems) == 1
    assert "session.realtime.expires_at" in problems[0]
    assert "Extra inputs are not permitted" in problems[0]


async def test_an_off_spec_event_sent_by_the_peer_fails_assert_valid(
    own_peer: FakeRealtime,
) -> None:
    """What the peer sends is checked on the way out: an undeclared field fails the test."""
    async with peer_connect(own_peer)() as conn:
        await own_peer.wait_for(lambda: own_peer.connections == 1)
        await own_peer.send_event(
            {
                "type": "input_audio_buffer.cleared",
                "event_id": "event_odd",
                "extra_field": True,
            }
        )
        async for event in conn:
            if event.type == "input_audio_buffer.cleared":
                break
    with pytest.raises(
        AssertionError, match=r"peer sent: input_audio_buffer\.cleared.*extra_field"
    ):
        own_peer.assert_valid()
