"""Barge-in heard at the edge, through the relay: the phone stops at once, the model after.

The phone here plays what it is sent and records at the same time: for each tutor delta it
receives, its microphone delivers the same span of a prepared track (the room, the tutor's echo,
the student), after the relay has seen the delta go out, as a real phone's echo comes after
its playback. The fake Realtime peer's own VAD is off unless a test says otherwise, so an
`interrupt` can only have come from the edge. Absence is proven by a sequence point: a marker
transcript sent after the tutor's whole answer reaches the phone after anything the relay
queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from edge.metrics import Metrics
from edge.voice.audio import MODEL_RATE, PHONE_RATE
from edge.voice.protocol import Interrupt, Transcript
from edge.voice.relay import VoiceRelay
from shared.schemas import WireModel
from tests.edge.voice.barge_in_support import Samples, echo_of, mix, noise
from tests.edge.voice.voice_support import (
    eventually,
    make_relay,
    marker_event,
    metric,
    peer_connect,
)
from tests.fakes.realtime_peer import FakeRealtime

TUTOR_S = 3.0  # how long the tutor's answer is
STUDENT_AT_S = 1.0  # when the student starts speaking over it
ECHO_DB = -20.0  # the tutor's echo in the microphone, as the test mixes it


class PlayingPhone:
    """A phone that plays the tutor and records the room: its microphone follows its speaker."""

    def __init__(self, mic: Samples) -> None:
        self.timeline: list[bytes | WireModel] = []
        self.relay: VoiceRelay | None = None
        self._mic = mic
        self._position = 0

    async def send_audio(self, pcm: bytes) -> None:
        """Play the delta; the microphone's matching span follows once the relay moved on."""
        self.timeline.append(pcm)
        count = len(pcm) // 2 * PHONE_RATE // MODEL_RATE
        frame = self._mic[self._position : self._position + count]
        self._position += count
        if len(frame) and self.relay is not None:
            data = frame.astype("<f4").tobytes()
            asyncio.get_running_loop().call_soon(self.relay.phone_audio, data)

    async def send_event(self, event: WireModel) -> None:
        """Keep the event in order with the audio."""
        self.timeline.append(event)

    def record(self, seconds: float) -> None:
        """The microphone goes on without the tutor: the next `seconds` of the track."""
        assert self.relay is not None
        end = self._position + round(seconds * PHONE_RATE)
        for start in range(self._position, end, PHONE_RATE // 50):
            frame = self._mic[start : min(end, start + PHONE_RATE // 50)]
            self.relay.phone_audio(frame.astype("<f4").tobytes())
        self._position = end

    def interrupts(self) -> list[int]:
        """Where in the timeline each `interrupt` came."""
        return [i for i, item in enumerate(self.timeline) if isinstance(item, Interrupt)]

    def audio_after(self, index: int) -> int:
        """Bytes of tutor audio the phone got after timeline position `index`."""
        return sum(len(item) for item in self.timeline[index:] if isinstance(item, bytes))

    def has_marker(self) -> bool:
        """Whether the marker transcript has arrived."""
        return any(isinstance(e, Transcript) and e.text == "marker" for e in self.timeline)


def microphone(tutor: Samples, *events: tuple[float, Samples]) -> Samples:
    """A quiet room, the tutor's echo at ECHO_DB, and each (seconds, sound) at its time."""
    echo = echo_of(tutor, ECHO_DB, delay_ms=100)
    length = len(echo) + PHONE_RATE
    parts = [(0, noise(length / PHONE_RATE, -60)), (0, echo)]
    parts += [(round(at * PHONE_RATE), sound) for at, sound in events]
    return mix(length, *parts)


def speaking_tutor(peer: FakeRealtime, tutor: Samples) -> Samples:
    """Make the peer's answer TUTOR_S of the tutor's speech; return what it will say."""
    said = tutor[: round(TUTOR_S * MODEL_RATE)]
    pcm = (said * 32_767).astype("<i2")
    peer.reply_source = lambda start, count: pcm[start : start + count].tobytes()
    peer.reply_audio_ms = round(TUTOR_S * 1000)
    peer.delta_interval = 0.01  # streams while the phone listens (4x real time)
    peer.auto_respond = False
    return said


@contextlib.asynccontextmanager
async def conversation(
    peer: FakeRealtime, phone: PlayingPhone, metrics: Metrics, **changes: Any
) -> AsyncIterator[VoiceRelay]:
    """A running relay to `phone`; the tutor starts answering; closed on the way out."""
    relay = make_relay(phone, peer_connect(peer), metrics, **changes)
    phone.relay = relay
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(5):
            await relay.connected.wait()
        await peer.respond()
        yield relay
    finally:
        relay.close("test_over")
        async with asyncio.timeout(5):
            await task


async def answered_then_marker(peer: FakeRealtime, phone: PlayingPhone) -> None:
    """Wait for the tutor's whole answer to be done, then for a marker after it."""
    await peer.wait_for(lambda: len(peer.responses) == 1)
    await peer.send_event(marker_event())
    await eventually(phone.has_marker, what="the marker reached the phone")


def cancels(peer: FakeRealtime) -> int:
    """How many `response.cancel` events the peer received."""
    return sum(1 for event in peer.events if event.get("type") == "response.cancel")


async def test_speech_over_the_tutor_stops_the_phone_before_the_model_hears_it(
    realtime_peer: FakeRealtime, tutor: Samples, utterances: list[Samples]
) -> None:
    """With the model's VAD deaf, the edge alone interrupts: phone first, then cancel, truncate."""
    realtime_peer.speech_threshold = 1e9
    said = speaking_tutor(realtime_peer, tutor)
    phone, metrics = PlayingPhone(microphone(said, (STUDENT_AT_S, utterances[0]))), Metrics()
    async with conversation(realtime_peer, phone, metrics):
        await eventually(lambda: bool(phone.interrupts()), what="the phone was interrupted")
        await realtime_peer.wait_for(lambda: cancels(realtime_peer) == 1)
        await realtime_peer.wait_for(lambda: len(realtime_peer.truncates) == 1)
        await answered_then_marker(realtime_peer, phone)
    (at,) = phone.interrupts()
    assert phone.audio_after(at) == 0  # nothing of the cancelled answer after `interrupt`
    assert realtime_peer.responses[0]["status"] == "cancelled"
    assert metric(metrics.exposition(), "studylens_voice_local_onsets_total") == 1


async def test_the_tutors_own_echo_interrupts_nothing(
    realtime_peer: FakeRealtime, tutor: Samples
) -> None:
    """The tutor's voice leaking into the microphone at -20 dB never stops the tutor."""
    realtime_peer.speech_threshold = 1e9
    said = speaking_tutor(realtime_peer, tutor)
    phone, metrics = PlayingPhone(microphone(said)), Metrics()
    async with conversation(realtime_peer, phone, metrics):
        await answered_then_marker(realtime_peer, phone)
    assert phone.interrupts() == []
    assert realtime_peer.responses[0]["status"] == "completed"
    assert metric(metrics.exposition(), "studylens_voice_local_onsets_total") == 0


async def test_a_cough_shorter_than_the_minimum_interrupts_nothing(
    realtime_peer: FakeRealtime, tutor: Samples
) -> None:
    """A 60 ms burst at speech level over the tutor is under barge_in_min_speech_ms (100)."""
    realtime_peer.speech_threshold = 1e9
    said = speaking_tutor(realtime_peer, tutor)
    cough = noise(0.06, -14, seed=5)
    phone, metrics = PlayingPhone(microphone(said, (STUDENT_AT_S, cough))), Metrics()
    async with conversation(realtime_peer, phone, metrics):
        await answered_then_marker(realtime_peer, phone)
    assert phone.interrupts() == []
    assert realtime_peer.responses[0]["status"] == "completed"


async def test_with_local_barge_in_off_only_the_model_interrupts(
    realtime_peer: FakeRealtime, tutor: Samples, utterances: list[Samples]
) -> None:
    """voice_local_barge_in = false: speech the model does not hear interrupts nothing."""
    realtime_peer.speech_threshold = 1e9
    said = speaking_tutor(realtime_peer, tutor)
    phone = PlayingPhone(microphone(said, (STUDENT_AT_S, utterances[0])))
    async with conversation(realtime_peer, phone, Metrics(), local_barge_in=False):
        await answered_then_marker(realtime_peer, phone)
    assert phone.interrupts() == []
    assert realtime_peer.responses[0]["status"] == "completed"


async def test_the_models_speech_started_after_the_edges_stops_nothing_twice(
    realtime_peer: FakeRealtime, tutor: Samples, utterances: list[Samples]
) -> None:
    """The model hearing the student after the edge did: one `interrupt`, one cancel in all."""
    realtime_peer.speech_threshold = 1e9
    realtime_peer.cancel_tail_seconds = 1.0  # the cancelled answer is still active meanwhile
    said = speaking_tutor(realtime_peer, tutor)
    phone = PlayingPhone(microphone(said, (STUDENT_AT_S, utterances[1])))
    async with conversation(realtime_peer, phone, Metrics()):
        await eventually(lambda: bool(phone.interrupts()), what="the phone was interrupted")
        realtime_peer.speech_threshold = 0.05  # now the model hears the student too
        phone.record(0.5)  # the rest of what the student says
        await realtime_peer.wait_for(lambda: realtime_peer.speech_starts == 1)
        await answered_then_marker(realtime_peer, phone)
    assert len(phone.interrupts()) == 1
    assert cancels(realtime_peer) == 1
    assert len(realtime_peer.truncates) == 1


async def test_speech_shorter_than_the_configured_minimum_interrupts_nothing(
    realtime_peer: FakeRealtime, tutor: Samples, utterances: list[Samples]
) -> None:
    """voice_barge_in_min_speech_ms is the detector's: 300 ms of speech under a 600 ms minimum."""
    realtime_peer.speech_threshold = 1e9
    said = speaking_tutor(realtime_peer, tutor)
    short = utterances[0][: round(0.3 * PHONE_RATE)]
    phone = PlayingPhone(microphone(said, (STUDENT_AT_S, short)))
    async with conversation(realtime_peer, phone, Metrics(), barge_in_min_speech_ms=600):
        await answered_then_marker(realtime_peer, phone)
    assert phone.interrupts() == []
    assert realtime_peer.responses[0]["status"] == "completed"


async def test_with_local_barge_in_off_the_models_speech_started_still_interrupts(
    realtime_peer: FakeRealtime, tutor: Samples, utterances: list[Samples]
) -> None:
    """voice_local_barge_in = false: the model hearing the student stops the phone once."""
    said = speaking_tutor(realtime_peer, tutor)  # the peer's VAD hears the student
    phone = PlayingPhone(microphone(said, (STUDENT_AT_S, utterances[1])))
    async with conversation(realtime_peer, phone, Metrics(), local_barge_in=False):
        await realtime_peer.wait_for(lambda: realtime_peer.speech_starts == 1)
        await answered_then_marker(realtime_peer, phone)
    assert len(phone.interrupts()) == 1
    assert cancels(realtime_peer) == 1
