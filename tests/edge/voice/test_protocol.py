"""The phone's control messages (parse_phone_message) and the events sent back to it."""

from __future__ import annotations

import json

import pytest

from edge.voice.protocol import (
    BadPhoneMessage,
    Closing,
    ErrorEvent,
    Interrupt,
    PlaybackMessage,
    Ready,
    StartMessage,
    StopMessage,
    Transcript,
    parse_phone_message,
)


def test_start_with_a_session_id() -> None:
    """`start` carries the study session in `sessionId`."""
    assert parse_phone_message('{"type": "start", "sessionId": "abc"}') == StartMessage(
        type="start", session_id="abc"
    )


def test_start_without_a_session_id() -> None:
    """`start` alone means the running session."""
    message = parse_phone_message('{"type": "start"}')
    assert isinstance(message, StartMessage)
    assert message.session_id is None


def test_stop() -> None:
    """`stop` parses."""
    assert isinstance(parse_phone_message('{"type": "stop"}'), StopMessage)


def test_playback_with_and_without_an_item() -> None:
    """`playback` carries `playedMs` and optionally `itemId`."""
    assert parse_phone_message('{"type": "playback", "playedMs": 200}') == PlaybackMessage(
        type="playback", item_id=None, played_ms=200
    )
    message = parse_phone_message('{"type": "playback", "itemId": "item_1", "playedMs": 0}')
    assert isinstance(message, PlaybackMessage)
    assert (message.item_id, message.played_ms) == ("item_1", 0)


def test_unknown_fields_are_ignored() -> None:
    """Newer phones may send more fields; they do not break older daemons."""
    assert isinstance(parse_phone_message('{"type": "stop", "why": "bored"}'), StopMessage)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "dance"}',
        '{"kind": "start"}',
        "{not json",
        "",
        "[]",
        '"start"',
        "null",
        '{"type": "playback", "playedMs": -1}',
        '{"type": "playback"}',
        '{"type": "playback", "playedMs": "lots"}',
        '{"type": "start", "sessionId": ""}',
        '{"type": "start", "sessionId": "' + "x" * 65 + '"}',
    ],
    ids=[
        "unknown-type",
        "no-type",
        "bad-json",
        "empty",
        "array",
        "string",
        "null",
        "negative-played",
        "missing-played",
        "text-played",
        "empty-session",
        "long-session",
    ],
)
def test_anything_else_is_a_bad_phone_message(text: str) -> None:
    """Anything that is not one of the messages raises BadPhoneMessage with a sentence."""
    with pytest.raises(BadPhoneMessage, match="Not a control message"):
        parse_phone_message(text)


def test_bad_phone_message_is_one_of_the_edges_client_errors() -> None:
    """It belongs to the edge's one error tree, as a client's fault (400 bad_message)."""
    from edge.errors import EdgeError

    assert issubclass(BadPhoneMessage, EdgeError)
    assert (BadPhoneMessage.http_status, BadPhoneMessage.code) == (400, "bad_message")


def test_events_use_camel_case_on_the_wire() -> None:
    """Events serialise with camelCase keys and their `type`."""
    ready = Ready(session_id="s1", input_rate=16_000, output_rate=24_000)
    assert json.loads(ready.model_dump_json(by_alias=True)) == {
        "type": "ready",
        "sessionId": "s1",
        "inputRate": 16_000,
        "outputRate": 24_000,
    }
    transcript = Transcript(role="assistant", text="hi", final=True, item_id="i1")
    assert json.loads(transcript.model_dump_json(by_alias=True))["itemId"] == "i1"


def test_every_event_has_its_type() -> None:
    """`interrupt`, `error` and `closing` carry their names."""
    kinds = [
        Interrupt(item_id=None).type,
        ErrorEvent(code="c", message="m").type,
        Closing(reason="stopped").type,
    ]
    assert kinds == ["interrupt", "error", "closing"]
