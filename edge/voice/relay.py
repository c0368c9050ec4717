"""The voice relay: phone audio in, model audio out, barge-in, backpressure, reconnects.

Inbound: phone frame -> validate -> resample 16->24 kHz -> PCM16 -> base64 (one chunk per
frame, as it arrives) -> bounded buffer -> `input_audio_buffer.append`. Outbound:
`response.output_audio.delta` -> decode -> bounded buffer -> binary frame to the phone. Each
direction has its own pump, so a slow phone never stalls the model link, nor the reverse. The
phone side is an interface, so the same relay serves the WebSocket and this computer's own
sound card.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    ConversationItemInputAudioTranscriptionCompletedEvent as UserTranscriptDone,
)
from openai.types.realtime.conversation_item_input_audio_transcription_delta_event import (
    ConversationItemInputAudioTranscriptionDeltaEvent as UserTranscriptDelta,
)
from openai.types.realtime.input_audio_buffer_speech_started_event import (
    InputAudioBufferSpeechStartedEvent as SpeechStarted,
)
from openai.types.realtime.realtime_conversation_item_function_call import (
    RealtimeConversationItemFunctionCall as FunctionCall,
)
from openai.types.realtime.realtime_error_event import RealtimeErrorEvent
from openai.types.realtime.response_audio_delta_event import ResponseAudioDeltaEvent
from openai.types.realtime.response_audio_transcript_delta_event import (
    ResponseAudioTranscriptDeltaEvent as TutorTranscriptDelta,
)
from openai.types.realtime.response_audio_transcript_done_event import (
    ResponseAudioTranscriptDoneEvent as TutorTranscriptDone,
)
from openai.types.realtime.response_created_event import ResponseCreatedEvent
from openai.types.realtime.response_done_event import ResponseDoneEvent

from edge.metrics import Metrics
from edge.settings import RealtimeSettings, RelaySettings
from edge.voice.audio import (
    BadAudioFrame,
    InboundAudio,
    make_resampler,
)
from edge.voice.backpressure import Backpressure, BoundedBuffer
from edge.voice.barge_in import OnsetConfig, SpeechOnset
from edge.voice.context import StudyContext, Throttle, tutor_instructions
from edge.voice.events import EventTable, ServerEvent, UnreadableEvent
from edge.voice.link import (
    Connect,
    LinkClosed,
    LinkError,
    LinkRejected,
    RealtimeLink,
    instructions_update,
    session_config,
)
from edge.voice.playback import PlaybackTracker, Truncation
from edge.voice.protocol import Closing, ErrorEvent, Interrupt, Transcript
from edge.voice.recording import Recorder
from edge.voice.tools import Toolbox
from shared.schemas import WireModel

log = logging.getLogger(__name__)

#: How long a closing phone gets to take the audio still queued for it.
FAREWELL_SECONDS = 2.0
#: A session that lasted this long was healthy: a failure after it starts the count afresh.
STABLE_SECONDS = 30.0
#: Quick failures in a row after which the relay gives up (`closing` model_unavailable).
RECONNECT_ATTEMPTS = 5
#: The longest wait before a reconnect.
MAX_BACKOFF_SECONDS = 8.0

Sleep = Callable[[float], Awaitable[None]]


def reconnect_delay(failures: int) -> float:
    """Seconds to wait before reconnecting after `failures` quick failures in a row."""
    return min(MAX_BACKOFF_SECONDS, 0.25 * 2.0**failures)


class SessionRenewal(Exception):
    """The Realtime session reached the age at which it is renewed."""


class PhoneSide(Protocol):
    """Where the relay's output goes: a WebSocket to the phone, or the local speaker."""

    async def send_audio(self, pcm: bytes) -> None:
        """Send PCM16LE 24 kHz mono audio."""
        ...

    async def send_event(self, event: WireModel) -> None:
        """Send a JSON event."""
        ...


class VoiceRelay:
    """One live voice session between a phone and the Realtime API."""

    def __init__(
        self,
        *,
        phone: PhoneSide,
        connect: Connect,
        settings: RelaySettings,
        link: RealtimeSettings,
        context: StudyContext,
        metrics: Metrics,
        recorder: Recorder | None = None,
        greeting: WireModel | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        reconnect_attempts: int | None = None,
        toolbox: Toolbox | None = None,
    ) -> None:
        self._phone = phone
        self._toolbox = toolbox
        # Function calls of finished responses, waiting for the tool loop to answer them.
        self._calls: list[FunctionCall] = []
        self._calls_due = asyncio.Event()
        self._connect = connect
        self._settings = settings
        self._link_settings = link
        # Read when built, not when defined: a test may lower the module's constant.
        self._reconnect_attempts = (
            RECONNECT_ATTEMPTS if reconnect_attempts is None else reconnect_attempts
        )
        self._context = context
        self._metrics = metrics
        self._recorder = recorder
        self._greeting = greeting
        self._clock = clock
        self._sleep = sleep
        self._inbound = InboundAudio(
            resampler=make_resampler(settings.resampler),
            frame_ms=settings.frame_ms,
            max_frame_bytes=settings.max_frame_bytes,
        )
        # Each item carries the loop time it arrived at, for the latency the relay adds.
        self._to_model: BoundedBuffer[tuple[str, float]] = BoundedBuffer(
            settings.soft_limit_bytes, settings.hard_limit_bytes
        )
        self._to_phone: BoundedBuffer[tuple[bytes | WireModel, float]] = BoundedBuffer(
            settings.soft_limit_bytes, settings.hard_limit_bytes
        )
        self._model_wakeup = asyncio.Event()
        self._phone_wakeup = asyncio.Event()
        self._onset = (
            SpeechOnset(OnsetConfig(min_speech_ms=settings.barge_in_min_speech_ms))
            if settings.local_barge_in
            else None
        )
        # Barge-ins heard at the edge whose cancel and truncate the link has yet to send.
        self._stops: list[tuple[str | None, Truncation | None]] = []
        self._stop_due = asyncio.Event()
        self._tracker = PlaybackTracker()
        self._cancelled: set[str] = set()
        self._throttle = Throttle(settings.context_interval_seconds)
        self._context_due = asyncio.Event()
        self._link: RealtimeLink | None = None
        self._events = self._event_table()
        self.connected = asyncio.Event()
        self._closing: str | None = None
        self._done = asyncio.Event()
        self._flush_phone = False

    # --- from the phone ---------------------------------------------------------------------

    def phone_audio(self, data: bytes) -> None:
        """A binary frame from the phone; a bad one is answered with `error` and dropped."""
        try:
            samples = self._inbound.decode(data)
        except BadAudioFrame as exc:
            self._metrics.voice_bad_frames.inc()
            self._event(ErrorEvent(code="bad_audio_frame", message=str(exc)))
            return
        chunks = self._inbound.convert(samples)
        if self._recorder is not None:
            self._recorder.phone(data)
        if self._onset is not None and self._onset.phone_audio(samples):
            self._local_barge_in()
        arrived = time.perf_counter()
        try:
            for chunk in chunks:
                self._to_model.put((chunk, arrived), len(chunk))
        except Backpressure as exc:
            self.close("backpressure", detail=f"model link stalled: {exc}")
        self._count_drops()
        self._model_wakeup.set()

    def phone_played(self, item_id: str | None, played_ms: int) -> None:
        """The phone's playback report."""
        self._tracker.played(item_id, played_ms)

    def phone_event(self, event: WireModel) -> None:
        """Queue an event for the phone, in order with its audio."""
        self._event(event)

    def context_changed(self) -> None:
        """The camera saw a new topic: refresh the tutor's instructions soon."""
        self._context_due.set()

    def close(self, reason: str, detail: str = "") -> None:
        """End the relay: tell the phone why, stop the pumps and the link."""
        if self._closing is not None:
            return
        self._closing = reason
        log.info("voice session closing: %s %s", reason, detail)
        self._done.set()

    @property
    def closing_reason(self) -> str | None:
        """Why the relay ended, once it has."""
        return self._closing

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until closed; every task is owned here and awaited."""
        self._metrics.voice_sessions.inc()
        try:
            async with asyncio.TaskGroup() as tasks:
                link = tasks.create_task(self._link_loop(), name="voice:link")
                to_model = tasks.create_task(self._pump_to_model(), name="voice:to-model")
                to_phone = tasks.create_task(self._pump_to_phone(), name="voice:to-phone")
                context = tasks.create_task(self._context_loop(), name="voice:context")
                stops = tasks.create_task(self._stop_loop(), name="voice:barge-in")
                tools = tasks.create_task(self._tool_loop(), name="voice:tools")
                await self._done.wait()
                others = {link, to_model, context, stops, tools}
                for task in others:
                    task.cancel()  # none of them runs again before its CancelledError
                # Last words to the phone, after the audio still queued for it (a phone that
                # stalled has had its audio cleared when it did), without waiting for the model
                # link's close handshake: a busy provider may take its close timeout (10 s).
                self._event(Closing(reason=self._closing or "closed"))
                self._flush_phone = True
                self._phone_wakeup.set()
                try:
                    async with asyncio.timeout(FAREWELL_SECONDS):
                        await asyncio.shield(to_phone)
                except TimeoutError:
                    to_phone.cancel()
                await asyncio.wait(others)
        finally:
            if self._recorder is not None:
                await asyncio.to_thread(self._recorder.close)
            self._metrics.voice_sessions.dec()

    async def _link_loop(self) -> None:
        """Keep a Realtime session open for as long as the phone is here.

        Renews the session before the provider's time cap and reconnects after a recoverable
        close, re-sending instructions and study context each time; gives up after a few quick
        failures in a row.
        """
        failures = 0
        while True:
            started = self._clock()
            try:
                await self._session()
                log.info("realtime session ended by the provider; reconnecting")
            except SessionRenewal:
                log.info("renewing the realtime session before the provider's time cap")
                self._metrics.voice_reconnects.labels("renewal").inc()
                failures = 0
                continue
            except LinkRejected as exc:
                self.close("voice_rejected", detail=str(exc))
                return
            except LinkClosed as exc:
                if not exc.recoverable:
                    self.close("model_closed", detail=f"close code {exc.close_code}")
                    return
                log.warning("realtime link closed with %d; reconnecting", exc.close_code)
            except LinkError as exc:
                log.warning("realtime link failed: %s", exc)
            if self._clock() - started > STABLE_SECONDS:
                failures = 0
            failures += 1
            if failures > self._reconnect_attempts:
                self.close("model_unavailable", detail="the realtime link keeps failing")
                return
            self._metrics.voice_reconnects.labels("lost").inc()
            await self._sleep(reconnect_delay(failures))

    async def _session(self) -> None:
        """One Realtime session, from `session.update` until it ends or times out."""
        try:
            async with RealtimeLink(self._connect) as link:
                self._link = link
                tools = self._toolbox.definitions() if self._toolbox is not None else None
                await link.update_session(
                    session_config(self._link_settings, tutor_instructions(self._context), tools)
                )
                self._calls.clear()  # calls of the old session have no item in the new one
                self._throttle.sent(self._clock())
                self._tracker.response_ended(None)
                self.connected.set()
                self._model_wakeup.set()
                if self._greeting is not None:  # first connection only: the phone may talk
                    self._event(self._greeting)
                    self._greeting = None
                try:
                    async with asyncio.timeout(self._settings.session_max_seconds) as cap:
                        async for event in link:
                            await self._handle(event)
                except TimeoutError:
                    if cap.expired():
                        raise SessionRenewal from None
                    raise  # some other timeout inside
        finally:
            self._link = None
            self.connected.clear()

    async def _pump_to_model(self) -> None:
        while True:
            await self.connected.wait()
            link = self._link
            entry = self._to_model.take() if link is not None else None
            if link is None or entry is None:
                self._model_wakeup.clear()
                await self._model_wakeup.wait()
                continue
            chunk, arrived = entry
            try:
                await link.append_audio(chunk)
            except LinkError as exc:
                log.info("append lost with the link (%s); the link loop reconnects", exc)
                continue
            self._metrics.voice_latency.labels("to_model").observe(time.perf_counter() - arrived)

    async def _pump_to_phone(self) -> None:
        while True:
            entry = self._to_phone.take()
            if entry is None:
                if self._flush_phone:
                    return
                self._phone_wakeup.clear()
                await self._phone_wakeup.wait()
                continue
            item, arrived = entry
            try:
                if isinstance(item, bytes):
                    await self._phone.send_audio(item)
                    self._metrics.voice_latency.labels("to_phone").observe(
                        time.perf_counter() - arrived
                    )
                    if self._onset is not None:  # what the microphone may hear again
                        self._onset.tutor_audio(item)
                else:
                    await self._phone.send_event(item)
            except (ConnectionError, RuntimeError) as exc:  # the phone went away
                self.close("phone_gone", detail=str(exc))
                return

    async def _context_loop(self) -> None:
        while True:
            await self._context_due.wait()
            await self._sleep(self._throttle.delay(self._clock()))
            self._context_due.clear()
            link = self._link
            if link is None:
                continue  # the next connection sends the fresh context anyway
            try:
                await link.update_session(instructions_update(tutor_instructions(self._context)))
            except LinkError as exc:  # the link loop reconnects, sending the context then
                log.info("context update lost with the link (%s)", exc)
                continue
            self._throttle.sent(self._clock())

    # --- from the model ---------------------------------------------------------------------

    def _event_table(self) -> EventTable:
        table = EventTable()
        table.on(ResponseAudioDeltaEvent, self._on_audio_delta)
        table.on(SpeechStarted, self._on_speech_started)
        table.on(ResponseCreatedEvent, self._on_response_created)
        table.on(ResponseDoneEvent, self._on_response_done)
        table.on(UserTranscriptDelta, self._on_user_transcript_delta)
        table.on(UserTranscriptDone, self._on_user_transcript_done)
        table.on(TutorTranscriptDelta, self._on_tutor_transcript_delta)
        table.on(TutorTranscriptDone, self._on_tutor_transcript_done)
        table.on(RealtimeErrorEvent, self._on_error)
        return table

    async def _handle(self, event: ServerEvent | UnreadableEvent) -> None:
        if isinstance(event, UnreadableEvent):
            self._metrics.voice_event_failures.inc()
            log.warning("unreadable realtime event %r: %s", event.type, event.problem)
            return
        try:
            await self._events.dispatch(event)
        except LinkError:
            raise
        except Exception:
            # One odd event must not end the conversation.
            self._metrics.voice_event_failures.inc()
            log.exception("could not handle realtime event %r", event.type)

    async def _on_audio_delta(self, event: ResponseAudioDeltaEvent) -> None:
        if event.response_id in self._cancelled:
            return
        pcm = base64.b64decode(event.delta)
        self._tracker.sent(event.item_id, len(pcm))
        if self._recorder is not None:
            self._recorder.model(pcm)
        self._to_phone_put(pcm, len(pcm))

    async def _on_speech_started(self, event: SpeechStarted) -> None:
        await self._barge_in()

    async def _on_response_created(self, event: ResponseCreatedEvent) -> None:
        if event.response.id is not None:
            self._tracker.response_started(event.response.id)

    async def _on_response_done(self, event: ResponseDoneEvent) -> None:
        self._tracker.response_ended(event.response.id)
        # The model answers a call only after the response that made it is done (a
        # `response.create` during it is refused), so calls are taken from `response.done`.
        calls = [
            item
            for item in event.response.output or []
            if isinstance(item, FunctionCall) and item.status == "completed" and item.call_id
        ]
        if calls and self._toolbox is not None:
            self._calls.extend(calls)
            self._calls_due.set()

    async def _on_user_transcript_delta(self, event: UserTranscriptDelta) -> None:
        if event.delta is not None:  # declared optional; the API always sends it
            self._event(
                Transcript(role="user", text=event.delta, final=False, item_id=event.item_id)
            )

    async def _on_user_transcript_done(self, event: UserTranscriptDone) -> None:
        self._event(
            Transcript(role="user", text=event.transcript, final=True, item_id=event.item_id)
        )

    async def _on_tutor_transcript_delta(self, event: TutorTranscriptDelta) -> None:
        self._event(
            Transcript(role="assistant", text=event.delta, final=False, item_id=event.item_id)
        )

    async def _on_tutor_transcript_done(self, event: TutorTranscriptDone) -> None:
        self._event(
            Transcript(role="assistant", text=event.transcript, final=True, item_id=event.item_id)
        )

    async def _on_error(self, event: RealtimeErrorEvent) -> None:
        if event.error.code == "response_cancel_not_active":
            return  # a cancel raced the response's end: expected, harmless
        log.warning("realtime error: %s", event.error)
        self._event(ErrorEvent(code="model_error", message=event.error.message))

    async def _barge_in(self) -> None:
        """The model heard the student start speaking: stop the tutor, unless already stopped."""
        link = self._link
        if link is None:
            return
        stop = self._interrupt_phone()
        if stop is not None:
            await self._stop_tutor(link, *stop)

    def _local_barge_in(self) -> None:
        """The edge heard the student start speaking over the tutor: stop the phone now."""
        self._metrics.voice_local_onsets.inc()
        stop = self._interrupt_phone()
        if stop is not None:
            self._stops.append(stop)
            self._stop_due.set()

    def _interrupt_phone(self) -> tuple[str | None, Truncation | None] | None:
        """Stop the phone playing the tutor; what to cancel and where to cut, or None if silent.

        The phone is told first (`interrupt`, its queued audio dropped, later deltas of the
        response dropped), the model after: that takes a round trip the phone need not wait for.
        """
        speaking = self._tracker.active_response
        if speaking in self._cancelled:
            speaking = None  # already stopped: the edge heard the student first
        cut = self._tracker.interrupt()
        dropped = self._to_phone.clear_audio()
        if speaking is None and cut is None and not dropped:
            return None  # the tutor was silent: nothing to interrupt
        if speaking is not None:
            self._cancelled.add(speaking)
        if self._onset is not None:
            self._onset.tutor_stopped()
        self._metrics.voice_barge_ins.inc()
        self._event(Interrupt(item_id=cut.item_id if cut else self._tracker.current_item))
        return speaking, cut

    @staticmethod
    async def _stop_tutor(link: RealtimeLink, speaking: str | None, cut: Truncation | None) -> None:
        """Cancel the response in progress and cut its item where the student came in."""
        if speaking is not None:
            await link.cancel_response()
        if cut is not None:
            await link.truncate(cut.item_id, cut.audio_end_ms)

    async def _stop_loop(self) -> None:
        """Send the model the cancel and truncate of each barge-in heard at the edge."""
        while True:
            await self._stop_due.wait()
            self._stop_due.clear()
            stops, self._stops = self._stops, []
            link = self._link
            if link is not None:  # without one there is nothing to stop: a new session is idle
                try:
                    for stop in stops:
                        await self._stop_tutor(link, *stop)
                except LinkError as exc:  # the link loop reconnects
                    log.info("barge-in lost with the link (%s)", exc)

    async def _tool_loop(self) -> None:
        """Run the model's function calls, answer each, then let the model speak on."""
        while True:
            await self._calls_due.wait()
            self._calls_due.clear()
            calls, self._calls = self._calls, []
            if self._toolbox is None or not calls:
                continue
            outputs = [
                (call.call_id, await self._toolbox.call(call.name, call.arguments))
                for call in calls
            ]
            link = self._link
            if link is None:  # the session the calls belong to is gone with its items
                continue
            try:
                for call_id, output in outputs:
                    if call_id is not None:
                        await link.send_function_output(call_id, output)
                await link.create_response()
            except LinkError as exc:  # the link loop reconnects
                log.info("tool outputs lost with the link (%s)", exc)

    # --- helpers ----------------------------------------------------------------------------

    def _event(self, event: WireModel) -> None:
        self._to_phone_put(event, 0, droppable=False)

    def _to_phone_put(self, item: bytes | WireModel, size: int, droppable: bool = True) -> None:
        try:
            self._to_phone.put((item, time.perf_counter()), size, droppable=droppable)
        except Backpressure as exc:
            # The phone takes nothing: what is queued for it would only delay its farewell.
            self._to_phone.clear_audio()
            self.close("backpressure", detail=f"phone stalled: {exc}")
        self._count_drops()
        self._phone_wakeup.set()

    def _count_drops(self) -> None:
        for direction, buffer in (("to_model", self._to_model), ("to_phone", self._to_phone)):
            if buffer.dropped:
                self._metrics.voice_dropped.labels(direction).inc(buffer.dropped)
                buffer.dropped = 0
