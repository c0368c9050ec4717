"""The Realtime seam: server events parsed into the SDK's models, dispatch by type, link errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from openai.types.realtime.input_audio_buffer_speech_started_event import (
    InputAudioBufferSpeechStartedEvent,
)
from openai.types.realtime.response_audio_delta_event import ResponseAudioDeltaEvent

from edge.settings import RealtimeSettings
from edge.voice.events import EventTable, ServerEvent, UnreadableEvent, parse_server_event
from edge.voice.link import LinkClosed, LinkError, RealtimeLink, Vad, session_config
from tests.edge.voice.voice_support import peer_connect
from tests.fakes.realtime_peer import FakeRealtime, validation_problems

DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}


def test_a_server_event_is_parsed_into_its_sdk_model() -> None:
    """A known event comes back as the SDK's own model of it, fields typed."""
    event = parse_server_event(json.dumps(DELTA))
    assert isinstance(event, ResponseAudioDeltaEvent)
    assert (event.item_id, event.delta) == ("item_1", "AAAA")


def test_an_event_type_the_sdk_does_not_know_is_skipped() -> None:
    """The provider's newer events are nothing to the relay: no event, no failure."""
    assert parse_server_event('{"type": "brand.new_event", "event_id": "event_1"}') is None


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (json.dumps({k: v for k, v in DELTA.items() if k != "delta"}), DELTA["type"]),
        ('{"event_id": "event_1"}', "<no type>"),
        ("not json", "<not JSON>"),
    ],
)
def test_a_malformed_event_is_unreadable_naming_its_type(raw: str, kind: str) -> None:
    """A known type missing a field, no type at all, or no JSON: unreadable, with the type."""
    event = parse_server_event(raw)
    assert isinstance(event, UnreadableEvent)
    assert event.type == kind
    assert event.problem


async def test_the_table_runs_the_one_handler_of_the_events_type() -> None:
    """Each handler gets its own model; a type with no handler is ignored."""
    seen: list[str] = []

    async def on_delta(event: ResponseAudioDeltaEvent) -> None:
        seen.append(f"delta {event.item_id}")

    async def on_speech(event: InputAudioBufferSpeechStartedEvent) -> None:
        seen.append(f"speech {event.audio_start_ms}")

    table = EventTable()
    table.on(ResponseAudioDeltaEvent, on_delta)
    table.on(InputAudioBufferSpeechStartedEvent, on_speech)
    events: list[ServerEvent] = []
    for raw in (
        DELTA,
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "e",
            "item_id": "i",
            "audio_start_ms": 7,
        },
        {"type": "input_audio_buffer.cleared", "event_id": "e"},
    ):
        event = parse_server_event(json.dumps(raw))
        assert event is not None
        assert not isinstance(event, UnreadableEvent)
        events.append(event)
    for event in events:
        await table.dispatch(event)
    assert seen == ["delta item_1", "speech 7"]


@pytest.mark.parametrize("vad", ["server_vad", "semantic_vad"])
def test_the_session_config_is_a_valid_session_update(vad: Vad) -> None:
    """Both turn detections make a `session.update` the SDK's client-event models accept."""
    settings = RealtimeSettings(vad=vad)
    update = {"type": "session.update", "session": session_config(settings, "Be brief.")}
    assert validation_problems(json.dumps(update)) == []


@pytest.mark.parametrize("reduction", ["near_field", "far_field"])
def test_noise_reduction_goes_into_the_session_as_set(reduction: str) -> None:
    """The input noise reduction of the settings is the session's, valid for the SDK."""
    settings = RealtimeSettings.model_validate({"noise_reduction": reduction})
    session = session_config(settings, "Be brief.")
    assert session["audio"]["input"]["noise_reduction"] == {"type": reduction}
    update = {"type": "session.update", "session": session}
    assert validation_problems(json.dumps(update)) == []


def test_near_field_noise_reduction_is_the_default() -> None:
    """A microphone at the mouth (the glasses') is the default: near_field."""
    session = session_config(RealtimeSettings(), "Be brief.")
    assert session["audio"]["input"]["noise_reduction"] == {"type": "near_field"}


def test_noise_reduction_off_sends_none() -> None:
    """With noise reduction off the session asks for none (the provider's default is none)."""
    settings = RealtimeSettings.model_validate({"noise_reduction": "off"})
    assert "noise_reduction" not in session_config(settings, "Be brief.")["audio"]["input"]


def test_semantic_vad_carries_the_eagerness_setting() -> None:
    """With semantic_vad, the configured eagerness is the turn detection's, valid for the SDK."""
    settings = RealtimeSettings.model_validate({"vad": "semantic_vad", "vad_eagerness": "low"})
    session = session_config(settings, "Be brief.")
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
    }
    update = {"type": "session.update", "session": session}
    assert validation_problems(json.dumps(update)) == []


@pytest.fixture
async def own_peer() -> AsyncIterator[FakeRealtime]:
    """A peer of the test's own, closed with codes the shared fixture does not expect."""
    peer = FakeRealtime()
    await peer.start()
    yield peer
    await peer.stop()


async def drain(link: RealtimeLink) -> None:
    """Read the link's events until it ends."""
    async for _ in link:
        pass


@pytest.mark.parametrize(("code", "recoverable"), [(1011, True), (4000, False)])
async def test_a_close_by_the_provider_is_a_link_closed_with_its_code(
    own_peer: FakeRealtime, code: int, recoverable: bool
) -> None:
    """The websockets close surfaces as `LinkClosed`, never as the transport's exception."""
    async with RealtimeLink(peer_connect(own_peer)) as link:
        await own_peer.wait_for(lambda: own_peer.connections == 1)
        await own_peer.close_current(code)
        with pytest.raises(LinkClosed) as raised:
            await drain(link)
    assert raised.value.close_code == code
    assert raised.value.recoverable is recoverable


async def test_a_normal_close_ends_the_iteration() -> None:
    """1000 from the provider: the events simply end."""
    peer = FakeRealtime()
    await peer.start()
    try:
        async with RealtimeLink(peer_connect(peer)) as link:
            await peer.wait_for(lambda: peer.connections == 1)
            await peer.close_current(1000)
            kinds = [event.type async for event in link]
        assert kinds == ["session.created"]  # then the end, without an exception
    finally:
        await peer.stop()


async def test_an_unreachable_provider_is_a_link_error() -> None:
    """Nothing listening: a `LinkError` (the OS's refusal mapped where it enters)."""
    dead = FakeRealtime()
    await dead.start()
    connect = peer_connect(dead)
    await dead.stop()
    with pytest.raises(LinkError) as raised:
        async with RealtimeLink(connect):
            pass
    assert type(raised.value) is LinkError
