"""Barge-in over WS /ws: the student speaks over the tutor; cancel, truncate, interrupt."""

from __future__ import annotations

import numpy as np
from aiohttp import ClientWebSocketResponse

from tests.edge.voice.voice_support import (
    BYTES_PER_MS,
    Received,
    has,
    marker_event,
    read_until,
    send_audio,
    started,
    tone,
)
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, metrics_text


def streaming(peer: FakeRealtime) -> None:
    """A tutor answer of 3 s, streamed in 40 ms deltas every 20 ms (twice real time)."""
    peer.delta_interval = 0.02
    peer.reply_audio_ms = 3000
    peer.auto_respond = False


async def tutor_speaking(
    ws: ClientWebSocketResponse, peer: FakeRealtime, heard_ms: int = 400
) -> Received:
    """Start, make the peer answer, and read until `heard_ms` of its audio reached the phone."""
    await started(ws)
    await peer.respond()
    return await read_until(ws, lambda g: len(g.audio) >= heard_ms * BYTES_PER_MS)


async def test_speech_over_the_tutor_cancels_truncates_at_played_and_interrupts(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """Played 200 ms, then speech: `response.cancel`, truncate at 200 ms, `interrupt`."""
    streaming(realtime_peer)
    async with voice_client.ws_connect("/ws") as ws:
        got = await tutor_speaking(ws, realtime_peer)
        await ws.send_json({"type": "playback", "playedMs": 200})
        await send_audio(ws, tone(440, 0.2))
        await read_until(ws, has("interrupt"), got)
        await realtime_peer.wait_for(lambda: len(realtime_peer.truncates) == 1)
        # The cancelled response ends (`response.done`) after its tail of audio.
        await realtime_peer.wait_for(lambda: len(realtime_peer.responses) == 1)
    kinds = [e["type"] for e in realtime_peer.events]
    assert "response.cancel" in kinds
    assert kinds.index("response.cancel") < kinds.index("conversation.item.truncate")
    [truncate] = realtime_peer.truncates
    [interrupt] = got.of("interrupt")
    assert truncate["audio_end_ms"] == 200
    assert truncate["content_index"] == 0
    assert truncate["item_id"] == interrupt["itemId"]
    [cancelled] = realtime_peer.responses
    assert cancelled["status"] == "cancelled"
    assert cancelled["output"][0]["id"] == truncate["item_id"]
    assert realtime_peer.errors == []


async def test_without_a_playback_report_the_cut_is_at_what_was_sent(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """No `playback` report: truncate at the audio sent, which the model accepts."""
    streaming(realtime_peer)
    async with voice_client.ws_connect("/ws") as ws:
        got = await tutor_speaking(ws, realtime_peer)
        heard_ms = len(got.audio) / BYTES_PER_MS
        await send_audio(ws, tone(440, 0.2))
        await read_until(ws, has("interrupt"), got)
        await realtime_peer.wait_for(lambda: len(realtime_peer.truncates) == 1)
        # Let the peer answer the truncate before looking at its errors.
        await ws.send_json({"type": "stop"})
        await read_until(ws, lambda g: g.closed, got)
    [truncate] = realtime_peer.truncates
    assert heard_ms <= truncate["audio_end_ms"] < 3000
    assert [e for e in realtime_peer.errors if e.get("code") == "invalid_value"] == []


CANCELLED = 1111  # every sample of the answer the student cuts short
NEXT = 2222  # every sample of the answer after it


def samples_of(pcm: bytes | bytearray, value: int) -> int:
    """How many PCM16 samples of `pcm` are exactly `value`."""
    return int(np.count_nonzero(np.frombuffer(bytes(pcm), "<i2") == value))


async def test_no_byte_of_the_cancelled_answer_reaches_the_phone_after_the_interrupt(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """The model's late deltas of a cancelled answer are dropped; the next answer plays."""
    streaming(realtime_peer)
    realtime_peer.reply_sample = CANCELLED
    async with voice_client.ws_connect("/ws") as ws:
        got = await tutor_speaking(ws, realtime_peer)
        await send_audio(ws, tone(440, 0.2))
        await read_until(ws, has("interrupt"), got)
        at_interrupt = len(got.audio)
        await realtime_peer.wait_for(
            lambda: any(r["status"] == "cancelled" for r in realtime_peer.responses)
        )
        realtime_peer.reply_sample = NEXT
        await realtime_peer.respond()
        # The next answer's audio comes after the cancelled one's tail and `response.done`:
        # once it is here, the relay has handled every late delta.
        await read_until(ws, lambda g: samples_of(g.audio[at_interrupt:], NEXT) >= 200 * 24, got)
    assert realtime_peer.tail_deltas > 0, "the peer sent no late deltas: nothing was tested"
    assert samples_of(got.audio[:at_interrupt], CANCELLED) > 0
    assert samples_of(got.audio[at_interrupt:], CANCELLED) == 0


async def marker(peer: FakeRealtime, ws: ClientWebSocketResponse, got: Received) -> None:
    """Send a transcript from the peer and read until the phone has it (all before is handled)."""
    await peer.send_event(marker_event())
    await read_until(ws, has("transcript", text="marker"), got)


async def test_speech_while_the_tutor_is_silent_interrupts_nothing(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """Speech with no tutor audio: no `interrupt`, no cancel, no truncate, no barge-in counted."""
    realtime_peer.auto_respond = False
    got = Received()
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: realtime_peer.current.in_speech)
        await marker(realtime_peer, ws, got)
    kinds = [e["type"] for e in realtime_peer.events]
    assert "response.cancel" not in kinds
    assert realtime_peer.truncates == []
    assert got.of("interrupt") == []
    text = metrics_text(voice_client)
    assert "studylens_voice_barge_ins_total 0.0" in text


async def test_a_cancel_that_races_the_models_own_is_harmless(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """The model's own cancel wins the race: response_cancel_not_active is ignored, no `error`."""
    streaming(realtime_peer)
    realtime_peer.interrupt_on_speech = True
    async with voice_client.ws_connect("/ws") as ws:
        got = await tutor_speaking(ws, realtime_peer)
        await send_audio(ws, tone(440, 0.2))
        await read_until(ws, has("interrupt"), got)
        await realtime_peer.wait_for(
            lambda: any(e.get("code") == "response_cancel_not_active" for e in realtime_peer.errors)
        )
        await marker(realtime_peer, ws, got)  # the peer's error has been handled
    assert got.of("error") == []
    assert len(got.of("interrupt")) == 1
    assert realtime_peer.truncates
    assert realtime_peer.truncates[0]["audio_end_ms"] > 0
    assert [e for e in realtime_peer.errors if e.get("code") == "invalid_value"] == []


async def test_barge_ins_are_counted(voice_client: AppClient, realtime_peer: FakeRealtime) -> None:
    """Each `speech_started` counts in studylens_voice_barge_ins_total."""
    streaming(realtime_peer)
    async with voice_client.ws_connect("/ws") as ws:
        got = await tutor_speaking(ws, realtime_peer)
        await send_audio(ws, tone(440, 0.2))
        await read_until(ws, has("interrupt"), got)
    text = metrics_text(voice_client)
    assert "studylens_voice_barge_ins_total 1.0" in text
