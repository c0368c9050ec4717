"""The relay runs the tutor's function calls against the fake Realtime peer.

The peer makes the model call a tool the way the real API does (a response whose only output is
a `function_call` item, ended before the client may answer); the relay answers each call with a
`function_call_output` item and a `response.create`, and the peer, which refuses an output for
a call it never made, speaks on. Every event both ways is checked against the SDK's models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from edge.voice.relay import VoiceRelay
from edge.voice.tools import Tool, Toolbox
from tests.edge.voice.test_relay_contract import running
from tests.edge.voice.voice_support import CollectingPhone, eventually, make_relay, peer_connect
from tests.fakes.realtime_peer import FakeRealtime


class Echo(BaseModel):
    """Arguments of the test tool."""

    word: str


async def echo(args: Echo) -> dict[str, str]:
    """Says the word back."""
    return {"said": args.word}


async def broken(args: Echo) -> None:
    """A tool with a bug."""
    raise RuntimeError("bug")


@pytest.fixture
async def relay(realtime_peer: FakeRealtime) -> AsyncIterator[VoiceRelay]:
    """A running relay with the echo and broken tools, connected to the peer."""
    tools = Toolbox(
        [Tool("echo", "Say it back.", Echo, echo), Tool("broken", "Fails.", Echo, broken)]
    )
    relay = make_relay(CollectingPhone(), peer_connect(realtime_peer), toolbox=tools)
    async with running(relay):
        yield relay


def outputs(peer: FakeRealtime) -> list[dict[str, Any]]:
    """The function outputs the peer accepted, decoded."""
    return [{**o, "output": json.loads(o["output"])} for o in peer.function_outputs]


def audio_responses(peer: FakeRealtime) -> int:
    """Responses that ended with the tutor speaking."""
    return sum(
        1
        for r in peer.responses
        if r["status"] == "completed" and r["output"] and r["output"][0]["type"] == "message"
    )


async def test_the_session_declares_the_tools(
    relay: VoiceRelay, realtime_peer: FakeRealtime
) -> None:
    """`session.update` carries each tool with its schema, and lets the model choose."""
    await realtime_peer.wait_for(lambda: bool(realtime_peer.session_updates))
    first = realtime_peer.session_updates[0]

    assert [t["name"] for t in first["tools"]] == ["echo", "broken"]
    assert first["tools"][0]["parameters"]["required"] == ["word"]
    assert first["tool_choice"] == "auto"


async def test_a_call_is_answered_and_the_tutor_speaks_on(
    relay: VoiceRelay, realtime_peer: FakeRealtime
) -> None:
    """The output names the call, and a new response follows it."""
    call_id = await realtime_peer.call_function("echo", '{"word": "mitosis"}')

    await eventually(lambda: audio_responses(realtime_peer) == 1, what="the tutor spoke on")
    assert outputs(realtime_peer) == [
        {
            "id": realtime_peer.function_outputs[0]["id"],
            "object": "realtime.item",
            "type": "function_call_output",
            "call_id": call_id,
            "output": {"said": "mitosis"},
            "status": "completed",
        }
    ]


async def test_a_failing_tool_answers_an_error_and_the_session_goes_on(
    relay: VoiceRelay, realtime_peer: FakeRealtime
) -> None:
    """A tool's bug is an error output; the next call works as usual."""
    await realtime_peer.call_function("broken", '{"word": "x"}')
    await eventually(lambda: audio_responses(realtime_peer) == 1, what="the tutor spoke on")
    await realtime_peer.call_function("echo", '{"word": "again"}')
    await eventually(lambda: audio_responses(realtime_peer) == 2, what="the tutor spoke again")

    first, second = outputs(realtime_peer)
    assert first["output"]["error"]["code"] == "tool_failed"
    assert second["output"] == {"said": "again"}
    assert relay.closing_reason is None


async def test_bad_arguments_from_the_model_are_answered_not_run(
    relay: VoiceRelay, realtime_peer: FakeRealtime
) -> None:
    """Arguments off the schema get an error output the model can correct."""
    await realtime_peer.call_function("echo", '{"word": 5}')
    await eventually(lambda: audio_responses(realtime_peer) == 1, what="the tutor spoke on")

    assert outputs(realtime_peer)[0]["output"]["error"]["code"] == "bad_arguments"


async def test_a_cut_off_call_is_not_answered(
    relay: VoiceRelay, realtime_peer: FakeRealtime
) -> None:
    """A call in a cancelled response never completed: only the later call gets an output."""
    await realtime_peer.call_function("echo", '{"word": "lost"}', status="cancelled")
    later = await realtime_peer.call_function("echo", '{"word": "kept"}')
    await eventually(lambda: audio_responses(realtime_peer) == 1, what="the tutor spoke on")

    assert [o["call_id"] for o in outputs(realtime_peer)] == [later]


async def test_without_tools_the_session_declares_none(realtime_peer: FakeRealtime) -> None:
    """A relay with no toolbox leaves the session's tools alone."""
    relay = make_relay(CollectingPhone(), peer_connect(realtime_peer))
    async with running(relay):
        await realtime_peer.wait_for(lambda: bool(realtime_peer.session_updates))
        assert "tools" not in realtime_peer.session_updates[0]
