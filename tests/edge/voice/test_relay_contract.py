"""VoiceRelay contracts the broader relay tests leave open, each against the fake Realtime peer.

What reaches the phone for each transcript event, which item a playback report belongs to,
when a barge-in interrupts, which response a late `response.done` ends, the configured chunk
size, and what a phone that has stopped taking audio still gets. Ordering is proven, never
slept for: a `marker` transcript from the peer reaches the phone only after everything the peer
sent before it, and a recorder sees each audio delta as the relay handles it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosedError

import edge.voice.relay
from edge.metrics import Metrics
from edge.settings import RealtimeSettings
from edge.voice.context import StudyContext
from edge.voice.link import Connect
from edge.voice.protocol import Closing, Interrupt, Transcript
from edge.voice.recording import Recorder
from edge.voice.relay import RECONNECT_ATTEMPTS, PhoneSide, VoiceRelay, reconnect_delay
from shared.topics import STUDY_TOPICS
from tests.edge.voice.voice_support import (
    BYTES_PER_MS,
    CollectingPhone,
    eventually,
    frames,
    make_relay,
    metric,
    peer_connect,
    relay_settings,
    tone,
)
from tests.fakes.realtime_peer import FakeRealtime

RUN_LIMIT = 5.0  # seconds a relay may take to end once it has a reason to
DELTA_BYTES = 40 * BYTES_PER_MS  # one 40 ms delta of the fake peer


@contextlib.asynccontextmanager
async def running(
    relay: VoiceRelay, *, connected: bool = True
) -> AsyncIterator[asyncio.Task[None]]:
    """Run the relay, until connected unless told not to wait; close it and await run()."""
    task = asyncio.create_task(relay.run(), name="test:relay")
    try:
        async with asyncio.timeout(RUN_LIMIT):
            if connected:
                await relay.connected.wait()
        yield task
    finally:
        relay.close("test_over")
        async with asyncio.timeout(RUN_LIMIT):
            await task


def transcripts(phone: CollectingPhone, role: str) -> list[Transcript]:
    """The phone's transcript events of one role, in order."""
    return [e for e in phone.events if isinstance(e, Transcript) and e.role == role]


def interrupts(phone: CollectingPhone) -> list[Interrupt]:
    """The phone's interrupt events, in order."""
    return [e for e in phone.events if isinstance(e, Interrupt)]


def has_marker(phone: CollectingPhone) -> bool:
    """Whether the peer's marker transcript has reached the phone."""
    return any(isinstance(e, Transcript) and e.text == "marker" for e in phone.events)


async def marker(peer: FakeRealtime, phone: CollectingPhone) -> None:
    """Send a marker transcript and wait until the phone has it: all before it is handled."""
    await peer.send_event(user_delta("item_marker", "marker"))
    await eventually(lambda: has_marker(phone), what="the marker reached the phone")


def user_delta(item_id: str, text: str) -> dict[str, Any]:
    """A user transcription delta from the model."""
    return {
        "type": "conversation.item.input_audio_transcription.delta",
        "event_id": f"event_{item_id}_{text}",
        "item_id": item_id,
        "content_index": 0,
        "delta": text,
    }


def speech_started() -> dict[str, Any]:
    """The model's VAD heard the student start speaking."""
    return {
        "type": "input_audio_buffer.speech_started",
        "event_id": "event_speech",
        "audio_start_ms": 0,
        "item_id": "item_speech",
    }


def response_event(kind: str, response_id: str, status: str) -> dict[str, Any]:
    """A bare `response.created` / `response.done` for a response with no output."""
    return {
        "type": kind,
        "event_id": f"event_{kind}_{response_id}",
        "response": {
            "object": "realtime.response",
            "id": response_id,
            "status": status,
            "output": [],
        },
    }


def item_of(peer: FakeRealtime, index: int) -> str:
    """The assistant item of the peer's `index`-th finished response."""
    item_id: str = peer.responses[index]["output"][0]["id"]
    return item_id


async def tutor_answered(peer: FakeRealtime, phone: CollectingPhone, count: int) -> None:
    """Have the peer answer; wait until the phone has all of the answer's audio."""
    await peer.respond()
    await peer.wait_for(lambda: len(peer.responses) == count)
    want = count * peer.reply_audio_ms * BYTES_PER_MS
    await eventually(lambda: len(phone.audio) == want, what="the answer's audio reached the phone")


# --- transcripts --------------------------------------------------------------------------------


async def test_tutor_transcript_deltas_reach_the_phone_as_partial_assistant_text(
    realtime_peer: FakeRealtime,
) -> None:
    """Each tutor transcript delta reaches the phone: assistant, not final, its item, its text."""
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await tutor_answered(realtime_peer, phone, 1)
        await marker(realtime_peer, phone)
    item = item_of(realtime_peer, 0)
    partial = [t for t in transcripts(phone, "assistant") if not t.final]
    assert partial, "no partial tutor transcript reached the phone"
    assert {t.item_id for t in partial} == {item}
    spoken = realtime_peer.responses[0]["output"][0]["content"][0]["transcript"]
    assert "".join(t.text for t in partial) == spoken


async def test_the_tutor_final_transcript_reaches_the_phone_with_its_item(
    realtime_peer: FakeRealtime,
) -> None:
    """The tutor's transcript.done reaches the phone as one final assistant text of its item."""
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await tutor_answered(realtime_peer, phone, 1)
        await marker(realtime_peer, phone)
    spoken = realtime_peer.responses[0]["output"][0]["content"][0]["transcript"]
    final = [t for t in transcripts(phone, "assistant") if t.final]
    assert final == [
        Transcript(role="assistant", text=spoken, final=True, item_id=item_of(realtime_peer, 0))
    ]


async def test_a_user_transcript_delta_reaches_the_phone_as_partial_user_text(
    realtime_peer: FakeRealtime,
) -> None:
    """The student's transcription delta reaches the phone: user, not final, with its item."""
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await realtime_peer.send_event(user_delta("item_student", "what is"))
        await marker(realtime_peer, phone)
    assert transcripts(phone, "user")[0] == Transcript(
        role="user", text="what is", final=False, item_id="item_student"
    )


async def test_a_user_transcript_done_reaches_the_phone_as_final_user_text(
    realtime_peer: FakeRealtime,
) -> None:
    """The student's completed transcription reaches the phone: user, final, with its item."""
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await realtime_peer.send_event(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "event_id": "event_done",
                "item_id": "item_student",
                "content_index": 0,
                "transcript": "what is osmosis",
                "usage": {"type": "duration", "seconds": 1.5},
            }
        )
        await marker(realtime_peer, phone)
    assert transcripts(phone, "user")[0] == Transcript(
        role="user", text="what is osmosis", final=True, item_id="item_student"
    )


# --- barge-in -----------------------------------------------------------------------------------


async def test_a_playback_report_for_an_earlier_item_does_not_move_the_current_cut(
    realtime_peer: FakeRealtime,
) -> None:
    """Played-ms reported for an older item stay with it: the current item is cut at its sent."""
    realtime_peer.auto_respond = False
    phone = CollectingPhone()
    relay = make_relay(phone, peer_connect(realtime_peer))
    async with running(relay):
        await tutor_answered(realtime_peer, phone, 1)
        await tutor_answered(realtime_peer, phone, 2)
        relay.phone_played(item_of(realtime_peer, 0), 50)
        await realtime_peer.send_event(speech_started())
        await realtime_peer.wait_for(lambda: len(realtime_peer.truncates) == 1)
    cut = realtime_peer.truncates[0]
    assert (cut["item_id"], cut["audio_end_ms"]) == (
        item_of(realtime_peer, 1),
        realtime_peer.reply_audio_ms,
    )


async def test_speech_after_the_tutor_finished_still_interrupts_its_last_item(
    realtime_peer: FakeRealtime,
) -> None:
    """With no response active, speech over the last item's audio cuts it and tells the phone."""
    realtime_peer.auto_respond = False
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await tutor_answered(realtime_peer, phone, 1)
        await realtime_peer.send_event(speech_started())
        await marker(realtime_peer, phone)
    assert interrupts(phone) == [Interrupt(item_id=item_of(realtime_peer, 0))]


async def test_speech_during_a_response_with_no_audio_yet_interrupts_with_no_item(
    realtime_peer: FakeRealtime,
) -> None:
    """A response that has sent no audio is still interrupted; the phone is told of no item."""
    realtime_peer.auto_respond = False
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await realtime_peer.send_event(response_event("response.created", "resp_a", "in_progress"))
        await realtime_peer.send_event(speech_started())
        await marker(realtime_peer, phone)
    assert interrupts(phone) == [Interrupt(item_id=None)]


async def test_a_late_done_of_an_older_response_leaves_the_newer_one_active(
    realtime_peer: FakeRealtime,
) -> None:
    """`response.done` of an earlier response does not end the later one: speech still cuts it."""
    realtime_peer.auto_respond = False
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await realtime_peer.send_event(response_event("response.created", "resp_a", "in_progress"))
        await realtime_peer.send_event(response_event("response.created", "resp_b", "in_progress"))
        await realtime_peer.send_event(response_event("response.done", "resp_a", "cancelled"))
        await realtime_peer.send_event(speech_started())
        await marker(realtime_peer, phone)
    assert interrupts(phone) == [Interrupt(item_id=None)]
    assert "response.cancel" in [e["type"] for e in realtime_peer.events]


# --- phone audio to the model -------------------------------------------------------------------


async def test_the_configured_frame_ms_sizes_each_append(realtime_peer: FakeRealtime) -> None:
    """With frame_ms = 10, every input_audio_buffer.append carries exactly 10 ms of PCM16."""
    realtime_peer.auto_respond = False
    realtime_peer.speech_threshold = 1e9
    phone = CollectingPhone()
    relay = make_relay(phone, peer_connect(realtime_peer), frame_ms=10)
    async with running(relay):
        for frame in frames(tone(440, 0.2)):
            relay.phone_audio(frame)
        await eventually(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)
    appends = [e for e in realtime_peer.events if e["type"] == "input_audio_buffer.append"]
    assert {len(base64.b64decode(e["audio"])) for e in appends} == {10 * BYTES_PER_MS}


# --- a phone that has stopped taking audio ------------------------------------------------------

SOFT_DELTAS = 4  # the phone-bound buffer holds this many 40 ms deltas before dropping the oldest


class GatedPhone(CollectingPhone):
    """A phone that takes events but holds on to its first audio frame until `gate` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def send_audio(self, pcm: bytes) -> None:
        """Wait for the gate, then keep the audio."""
        await self.gate.wait()
        await super().send_audio(pcm)


class CountingRecorder(Recorder):
    """A recorder that writes nothing and counts the tutor audio the relay has handled."""

    def __init__(self) -> None:
        self.model_bytes = 0

    def phone(self, frame: bytes) -> None:
        """Phone audio is not counted."""

    def model(self, pcm: bytes) -> None:
        """Count the tutor's audio."""
        self.model_bytes += len(pcm)

    def close(self) -> None:
        """Nothing to finish."""


def gated_relay(
    peer: FakeRealtime,
    phone: GatedPhone,
    recorder: CountingRecorder,
    metrics: Metrics,
    soft_deltas: int = SOFT_DELTAS,
) -> VoiceRelay:
    """A relay to `phone` whose phone-bound buffer drops past `soft_deltas` deltas."""
    return VoiceRelay(
        phone=phone,
        connect=peer_connect(peer),
        settings=relay_settings(soft_limit_bytes=soft_deltas * DELTA_BYTES),
        link=RealtimeSettings(),
        context=StudyContext(STUDY_TOPICS),
        metrics=metrics,
        recorder=recorder,
    )


async def answered_while_stuck(peer: FakeRealtime, recorder: CountingRecorder) -> None:
    """Have the peer answer and wait until the relay has handled every delta of it."""
    peer.auto_respond = False
    await peer.respond()
    want = peer.reply_audio_ms * BYTES_PER_MS
    await eventually(lambda: recorder.model_bytes == want, what="the relay handled the answer")


async def test_events_for_a_stuck_phone_are_never_dropped_with_its_audio(
    realtime_peer: FakeRealtime,
) -> None:
    """Audio past the soft limit is dropped, but every transcript queued among it is delivered."""
    phone, recorder = GatedPhone(), CountingRecorder()
    async with running(gated_relay(realtime_peer, phone, recorder, Metrics())):
        await answered_while_stuck(realtime_peer, recorder)
        phone.gate.set()
        await marker(realtime_peer, phone)
    spoken = realtime_peer.responses[0]["output"][0]["content"][0]["transcript"]
    partial = [t.text for t in transcripts(phone, "assistant") if not t.final]
    assert "".join(partial) == spoken
    assert len(phone.audio) < realtime_peer.reply_audio_ms * BYTES_PER_MS  # audio was dropped


async def test_the_dropped_metric_counts_each_dropped_delta_once(
    realtime_peer: FakeRealtime,
) -> None:
    """The to_phone drop counter is exactly the number of deltas the full buffer dropped."""
    phone, recorder, metrics = GatedPhone(), CountingRecorder(), Metrics()
    async with running(gated_relay(realtime_peer, phone, recorder, metrics)):
        await answered_while_stuck(realtime_peer, recorder)
        phone.gate.set()
        await marker(realtime_peer, phone)
    deltas = realtime_peer.reply_audio_ms // realtime_peer.delta_ms
    # One delta is in the phone's hands, SOFT_DELTAS stay queued, the rest are dropped.
    exposition = metrics.exposition()
    name = "studylens_voice_audio_dropped_total"
    assert metric(exposition, name, direction="to_phone") == deltas - 1 - SOFT_DELTAS


async def test_a_barge_in_discards_the_audio_still_queued_for_the_phone(
    realtime_peer: FakeRealtime,
) -> None:
    """After speech over the tutor, audio queued but not yet taken never reaches the phone."""
    phone, recorder = GatedPhone(), CountingRecorder()
    async with running(gated_relay(realtime_peer, phone, recorder, Metrics())):
        await answered_while_stuck(realtime_peer, recorder)
        await realtime_peer.send_event(speech_started())
        await realtime_peer.wait_for(lambda: len(realtime_peer.truncates) == 1)
        phone.gate.set()
        await marker(realtime_peer, phone)
    assert len(phone.audio) == DELTA_BYTES  # only the frame it was already taking


# --- the link loop ------------------------------------------------------------------------------


class ManualClock:
    """A monotonic clock that only moves when the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The current fake time."""
        return self.now


def has_connections(peer: FakeRealtime, count: int) -> bool:
    """Whether the peer has accepted `count` connections."""
    return peer.connections == count


class RecordingSleep:
    """The relay's sleep in a test: keeps each delay and returns at once, without yielding.

    Not yielding keeps the caller running to its next real await, so a test that sees a delay
    recorded knows the caller has already acted on what followed the sleep.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        """Record the delay."""
        self.delays.append(delay)


def built_relay(
    connect: Connect,
    *,
    phone: PhoneSide | None = None,
    clock: ManualClock | None = None,
    sleep: RecordingSleep | None = None,
    reconnect_attempts: int | None = None,
    **changes: Any,
) -> VoiceRelay:
    """A relay with the given clock, sleep and settings `changes` (defaults otherwise)."""
    return VoiceRelay(
        phone=phone or CollectingPhone(),
        connect=connect,
        settings=relay_settings(**changes),
        link=RealtimeSettings(),
        context=StudyContext(STUDY_TOPICS),
        metrics=Metrics(),
        clock=clock or ManualClock(),
        sleep=sleep or RecordingSleep(),
        reconnect_attempts=reconnect_attempts,
    )


def relay_with_clock(peer: FakeRealtime, clock: ManualClock, reconnect_attempts: int) -> VoiceRelay:
    """A relay to a collecting phone whose link loop reads `clock`."""
    return built_relay(peer_connect(peer), clock=clock, reconnect_attempts=reconnect_attempts)


class HeldConnect:
    """Connections to the peer; the `held`-th and later ones wait for `gate` before connecting."""

    def __init__(self, peer: FakeRealtime, held: int) -> None:
        self._connect = peer_connect(peer)
        self._held = held
        self.calls = 0
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    def __call__(self) -> contextlib.AbstractAsyncContextManager[AsyncRealtimeConnection]:
        """The next connection."""
        self.calls += 1
        return self._after_gate() if self.calls >= self._held else self._connect()

    @contextlib.asynccontextmanager
    async def _after_gate(self) -> AsyncIterator[AsyncRealtimeConnection]:
        self.waiting.set()
        await self.gate.wait()
        async with self._connect() as connection:
            yield connection


async def ended(task: asyncio.Task[None]) -> None:
    """Wait for run() to return on its own."""
    async with asyncio.timeout(RUN_LIMIT):
        await task


async def test_a_non_recoverable_close_ends_the_relay_as_model_closed(
    realtime_peer: FakeRealtime,
) -> None:
    """A close code the relay cannot recover from ends it with `model_closed`, no reconnect."""
    relay = make_relay(CollectingPhone(), peer_connect(realtime_peer))
    async with running(relay) as task:
        await realtime_peer.close_current(4000)
        await ended(task)
    assert relay.closing_reason == "model_closed"
    assert realtime_peer.connections == 1


async def test_one_allowed_reconnect_means_exactly_one_before_giving_up(
    realtime_peer: FakeRealtime,
) -> None:
    """With reconnect_attempts=1, the first quick failure reconnects and the second gives up."""
    relay = make_relay(CollectingPhone(), peer_connect(realtime_peer), reconnect_attempts=1)
    async with running(relay) as task:
        await realtime_peer.close_current(1001)
        await realtime_peer.wait_for(lambda: realtime_peer.connections == 2)
        await relay.connected.wait()
        await realtime_peer.close_current(1001)
        await ended(task)
    assert relay.closing_reason == "model_unavailable"
    assert realtime_peer.connections == 2


async def test_a_failure_after_a_stable_session_starts_the_count_afresh(
    realtime_peer: FakeRealtime,
) -> None:
    """A session that lasted over STABLE_SECONDS resets the failure count: it reconnects again."""
    clock = ManualClock()
    relay = relay_with_clock(realtime_peer, clock, reconnect_attempts=1)
    async with running(relay):
        await realtime_peer.close_current(1001)  # quick failure: one of the one allowed
        await realtime_peer.wait_for(lambda: realtime_peer.connections == 2)
        await relay.connected.wait()
        clock.now += 30.5
        await realtime_peer.close_current(1001)  # after a stable session: counted afresh
        await realtime_peer.wait_for(lambda: realtime_peer.connections == 3)
        assert relay.closing_reason is None


async def test_a_session_of_exactly_stable_seconds_is_not_yet_stable(
    realtime_peer: FakeRealtime,
) -> None:
    """A session of exactly STABLE_SECONDS still counts as a quick failure."""
    clock = ManualClock()
    relay = relay_with_clock(realtime_peer, clock, reconnect_attempts=1)
    async with running(relay) as task:
        await realtime_peer.close_current(1001)
        await realtime_peer.wait_for(lambda: realtime_peer.connections == 2)
        await relay.connected.wait()
        clock.now += 30.0
        await realtime_peer.close_current(1001)
        await ended(task)
    assert relay.closing_reason == "model_unavailable"
    assert realtime_peer.connections == 2


def test_the_reconnect_delay_doubles_from_half_a_second_up_to_eight() -> None:
    """Waits before reconnecting: 0.5 s after one failure, doubling, never over 8 s."""
    assert [reconnect_delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_the_link_loop_waits_the_reconnect_delay_between_attempts(
    realtime_peer: FakeRealtime,
) -> None:
    """Each quick failure in a row is followed by the next, longer, reconnect delay."""
    sleep = RecordingSleep()
    relay = built_relay(peer_connect(realtime_peer), sleep=sleep, reconnect_attempts=5)
    async with running(relay):
        for connections in (2, 3):
            await realtime_peer.close_current(1001)
            await realtime_peer.wait_for(partial(has_connections, realtime_peer, connections))
            await relay.connected.wait()
    assert sleep.delays == [reconnect_delay(1), reconnect_delay(2)]


async def test_a_renewal_starts_the_failure_count_afresh(realtime_peer: FakeRealtime) -> None:
    """A session renewed at its age cap clears the count: the next quick failure reconnects."""
    relay = built_relay(
        peer_connect(realtime_peer), reconnect_attempts=1, session_max_minutes=0.005
    )
    async with running(relay):
        await realtime_peer.close_current(1001)  # quick failure: the one allowed
        await realtime_peer.wait_for(lambda: realtime_peer.connections == 3)  # one renewal
        await relay.connected.wait()
        failed_at = realtime_peer.connections
        await realtime_peer.close_current(1001)  # counted afresh after the renewal
        await realtime_peer.wait_for(lambda: realtime_peer.connections > failed_at)
        assert relay.closing_reason is None


@pytest.mark.parametrize("held", [1, 2], ids=["before-the-first-session", "between-sessions"])
async def test_a_context_change_with_no_link_leaves_later_changes_flowing(
    realtime_peer: FakeRealtime, held: int
) -> None:
    """A change with no link is skipped (the new session carries it); later ones still go out."""
    connect, sleep = HeldConnect(realtime_peer, held=held), RecordingSleep()
    relay = built_relay(connect, sleep=sleep)
    async with running(relay, connected=held > 1):
        if held > 1:
            await realtime_peer.close_current(1001)
        await connect.waiting.wait()  # no link now
        relay.context_changed()
        # The context loop's sleep comes after the backoff's, if any.
        await eventually(lambda: len(sleep.delays) == held, what="the context loop ran")
        connect.gate.set()
        await realtime_peer.wait_for(lambda: realtime_peer.connections == held)
        await relay.connected.wait()
        updates = len(realtime_peer.session_updates)
        relay.context_changed()
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) == updates + 1)
    assert set(realtime_peer.session_updates[-1]) == {"type", "instructions"}


class FailingAppends:
    """Connections to the peer whose next `fail` audio appends break as a dropped socket does."""

    def __init__(self, peer: FakeRealtime, fail: int) -> None:
        self._connect = peer_connect(peer)
        self.fail = fail

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncRealtimeConnection]:
        """The next connection, its raw sends wrapped."""
        async with self._connect() as connection:
            send_raw = connection.send_raw

            async def failing_send_raw(data: str | bytes) -> None:
                if self.fail:
                    self.fail -= 1
                    raise ConnectionClosedError(None, None)
                await send_raw(data)

            connection.send_raw = failing_send_raw  # type: ignore[method-assign]
            yield connection


async def test_audio_keeps_flowing_after_one_append_fails(realtime_peer: FakeRealtime) -> None:
    """An append lost with a broken send does not stop the phone's audio reaching the model."""
    realtime_peer.auto_respond = False
    realtime_peer.speech_threshold = 1e9
    connect = FailingAppends(realtime_peer, fail=1)
    relay = built_relay(connect)
    async with running(relay):
        for frame in frames(tone(440, 0.2)):
            relay.phone_audio(frame)
        await eventually(lambda: len(realtime_peer.audio) > 0, what="audio after the failure")
    assert connect.fail == 0


# --- the farewell -------------------------------------------------------------------------------


async def test_a_closing_relay_first_delivers_the_audio_queued_for_the_phone(
    realtime_peer: FakeRealtime,
) -> None:
    """Closed while the phone is busy: the phone still gets all queued audio, then `closing`."""
    phone, recorder = GatedPhone(), CountingRecorder()
    relay = gated_relay(realtime_peer, phone, recorder, Metrics(), soft_deltas=100)
    task = asyncio.create_task(relay.run())
    await relay.connected.wait()
    await answered_while_stuck(realtime_peer, recorder)
    relay.close("test_over")
    phone.gate.set()
    await ended(task)
    assert len(phone.audio) == realtime_peer.reply_audio_ms * BYTES_PER_MS
    assert phone.events[-1] == Closing(reason="test_over")


async def test_a_stalled_phone_gets_its_farewell_without_the_audio_it_left(
    realtime_peer: FakeRealtime,
) -> None:
    """A phone closed for backpressure gets `closing` next: the audio queued for it is gone."""
    phone = GatedPhone()
    realtime_peer.auto_respond = False
    relay = built_relay(
        peer_connect(realtime_peer),
        phone=phone,
        soft_limit_bytes=5 * DELTA_BYTES,
        hard_limit_bytes=5 * DELTA_BYTES,
    )
    task = asyncio.create_task(relay.run())
    await relay.connected.wait()
    await realtime_peer.respond()
    await eventually(lambda: relay.closing_reason == "backpressure", what="the phone stalled")
    phone.gate.set()
    await ended(task)
    assert len(phone.audio) == DELTA_BYTES  # only the frame it was already taking
    assert phone.events[-1] == Closing(reason="backpressure")


async def test_by_default_five_quick_failures_are_retried_and_the_sixth_gives_up(
    realtime_peer: FakeRealtime,
) -> None:
    """Without a reconnect_attempts argument the relay allows RECONNECT_ATTEMPTS (5) in a row."""
    relay = built_relay(peer_connect(realtime_peer))
    async with running(relay) as task:
        for connections in range(1, RECONNECT_ATTEMPTS + 2):
            await realtime_peer.wait_for(partial(has_connections, realtime_peer, connections))
            await relay.connected.wait()
            await realtime_peer.close_current(1001)
        await ended(task)
    assert relay.closing_reason == "model_unavailable"
    assert realtime_peer.connections == RECONNECT_ATTEMPTS + 1


class FailingUpdates:
    """Connections to the peer whose `session.update`s fail as a dropped socket's once armed."""

    def __init__(self, peer: FakeRealtime) -> None:
        self._connect = peer_connect(peer)
        self.fail = 0

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncRealtimeConnection]:
        """The next connection, its session updates wrapped."""
        async with self._connect() as connection:
            update = connection.session.update

            async def failing_update(**fields: Any) -> None:
                if self.fail:
                    self.fail -= 1
                    raise ConnectionClosedError(None, None)
                await update(**fields)

            connection.session.update = failing_update  # type: ignore[method-assign]
            yield connection


async def test_a_context_update_lost_with_the_link_leaves_later_ones_flowing(
    realtime_peer: FakeRealtime,
) -> None:
    """One failed context update is logged and skipped; the next change goes out as usual."""
    connect = FailingUpdates(realtime_peer)
    relay = built_relay(connect)
    async with running(relay):
        updates = len(realtime_peer.session_updates)
        connect.fail = 1
        relay.context_changed()
        await eventually(lambda: connect.fail == 0, what="the update failed")
        relay.context_changed()
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) == updates + 1)
    assert set(realtime_peer.session_updates[-1]) == {"type", "instructions"}


async def test_a_context_change_soon_after_another_waits_out_the_interval(
    realtime_peer: FakeRealtime,
) -> None:
    """The throttle counts context updates too: one second after one, the next waits 4 of 5 s."""
    clock, sleep = ManualClock(), RecordingSleep()
    relay = built_relay(
        peer_connect(realtime_peer), clock=clock, sleep=sleep, context_interval_seconds=5
    )
    async with running(relay):
        updates = len(realtime_peer.session_updates)
        clock.now = 10.0  # long after the session's own update
        relay.context_changed()
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) == updates + 1)
        clock.now = 11.0
        relay.context_changed()
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) == updates + 2)
    assert sleep.delays[-2:] == [0.0, 4.0]


async def test_speech_after_a_finished_answer_cancels_nothing(
    realtime_peer: FakeRealtime,
) -> None:
    """Once the answer's `response.done` came, a barge-in cuts its item but sends no cancel."""
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):
        await tutor_answered(realtime_peer, phone, 1)
        await realtime_peer.send_event(speech_started())
        await realtime_peer.wait_for(lambda: len(realtime_peer.truncates) == 1)
        await marker(realtime_peer, phone)
    assert not [e for e in realtime_peer.events if e.get("type") == "response.cancel"]


async def test_the_relay_ends_as_soon_as_the_phone_has_its_farewell(
    realtime_peer: FakeRealtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run() returns once everything queued reached the phone, not at the farewell's deadline."""
    monkeypatch.setattr(edge.voice.relay, "FAREWELL_SECONDS", 4 * RUN_LIMIT)
    phone = CollectingPhone()
    async with running(make_relay(phone, peer_connect(realtime_peer))):  # ends within RUN_LIMIT
        await tutor_answered(realtime_peer, phone, 1)
    assert phone.events[-1] == Closing(reason="test_over")


class SlowClose:
    """Connections to the peer whose close waits for `gate`: a provider slow to say goodbye."""

    def __init__(self, peer: FakeRealtime) -> None:
        self._connect = peer_connect(peer)
        self.gate = asyncio.Event()
        self.closing = asyncio.Event()

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncRealtimeConnection]:
        """The next connection; leaving it hangs until the gate opens."""
        async with self._connect() as connection:
            try:
                yield connection
            finally:
                self.closing.set()
                await self.gate.wait()


async def test_the_phone_gets_its_farewell_while_the_model_link_is_still_closing(
    realtime_peer: FakeRealtime,
) -> None:
    """`closing` reaches the phone without waiting for the model link's close handshake."""
    connect, phone = SlowClose(realtime_peer), CollectingPhone()
    relay = built_relay(connect, phone=phone)
    task = asyncio.create_task(relay.run())
    await relay.connected.wait()
    relay.close("test_over")
    await connect.closing.wait()
    await eventually(
        lambda: bool(phone.events) and phone.events[-1] == Closing(reason="test_over"),
        what="the farewell reached the phone",
    )
    assert not task.done()  # the link is still closing
    connect.gate.set()
    await ended(task)


# --- the pumps ----------------------------------------------------------------------------------

LATENCY = "studylens_voice_relay_latency_seconds"


class VanishedPhone(CollectingPhone):
    """A phone whose connection is gone: sending audio to it fails."""

    async def send_audio(self, pcm: bytes) -> None:
        """The socket is gone."""
        raise ConnectionResetError("the phone went away")


async def test_a_phone_that_went_away_ends_the_relay_as_phone_gone(
    realtime_peer: FakeRealtime,
) -> None:
    """Audio to a vanished phone ends the relay with `phone_gone`."""
    realtime_peer.auto_respond = False
    relay = make_relay(VanishedPhone(), peer_connect(realtime_peer))
    async with running(relay) as task:
        await realtime_peer.respond()
        await ended(task)
    assert relay.closing_reason == "phone_gone"


async def test_tutor_audio_latency_is_observed_as_to_phone_seconds(
    realtime_peer: FakeRealtime,
) -> None:
    """Each delta sent to the phone adds its small, positive relay time under to_phone."""
    realtime_peer.auto_respond = False
    phone, metrics = CollectingPhone(), Metrics()
    async with running(make_relay(phone, peer_connect(realtime_peer), metrics)):
        await tutor_answered(realtime_peer, phone, 1)
    exposition = metrics.exposition()
    deltas = realtime_peer.reply_audio_ms // realtime_peer.delta_ms
    assert metric(exposition, f"{LATENCY}_count", direction="to_phone") == deltas
    total = metric(exposition, f"{LATENCY}_sum", direction="to_phone")
    assert total is not None
    assert 0 <= total < RUN_LIMIT


async def test_phone_audio_latency_is_observed_as_to_model_seconds(
    realtime_peer: FakeRealtime,
) -> None:
    """Each append sent to the model adds its small, positive relay time under to_model."""
    realtime_peer.auto_respond = False
    realtime_peer.speech_threshold = 1e9
    metrics = Metrics()
    relay = make_relay(CollectingPhone(), peer_connect(realtime_peer), metrics)
    async with running(relay):
        for frame in frames(tone(440, 0.2)):
            relay.phone_audio(frame)
        await eventually(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)
    exposition = metrics.exposition()
    observed = metric(exposition, f"{LATENCY}_count", direction="to_model")
    assert observed is not None
    assert observed >= 1
    total = metric(exposition, f"{LATENCY}_sum", direction="to_model")
    assert total is not None
    assert 0 <= total < RUN_LIMIT
