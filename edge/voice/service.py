"""A phone's voice socket from `start` to close: its session, revocation, recording and relay.

The HTTP handler only upgrades the socket and adapts it to `PhoneSocket`; everything the
conversation needs after that is decided here, and every task it starts is awaited here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from edge.errors import EdgeError
from edge.metrics import Metrics
from edge.pairing import is_revoked
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings
from edge.store import Store
from edge.voice.audio import MODEL_RATE, PHONE_RATE
from edge.voice.hub import VoiceHub
from edge.voice.protocol import (
    BadPhoneMessage,
    Closing,
    ErrorEvent,
    PausedEvent,
    PlaybackMessage,
    Ready,
    StartMessage,
    StopMessage,
    parse_phone_message,
)
from edge.voice.recording import Recorder, stamp
from edge.voice.relay import PhoneSide, VoiceRelay
from edge.voice.tools import Toolbox
from edge.voice.tutor import Tutor, configured_tutor
from shared.clock import Clock

log = logging.getLogger(__name__)

#: How long a new socket may stay silent before its `start`.
START_TIMEOUT_SECONDS = 30.0


class PhoneSocket(PhoneSide, Protocol):
    """The phone's end of a voice socket, as its transport adapts it."""

    async def receive(self) -> bytes | str | None:
        """The next frame: audio (bytes) or a JSON message (str); None once the phone is gone."""
        ...

    async def close(self) -> None:
        """Close the socket (a no-op once closed)."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the socket is closed."""
        ...


@dataclass(eq=False)
class _OpenSocket:
    """A socket being served: its relay once it has one, and whether a pause ended it."""

    phone: PhoneSocket
    relay: VoiceRelay | None = None
    paused: bool = False


class VoiceService:
    """Serves phones' voice sockets: one `serve` per socket."""

    def __init__(
        self,
        *,
        tutor: Tutor | None,
        hub: VoiceHub,
        sessions: SessionService,
        store: Store,
        clock: Clock,
        recordings: Path | None = None,
        pause_check: Callable[[], Awaitable[None]] | None = None,
        tools: Callable[[str], Toolbox] | None = None,
    ) -> None:
        self._tutor = tutor
        #: The tutor's tools for a voice session of study session `id` (none: no tools).
        self._tools = tools
        #: Raises an EdgeError (`paused`) while capture is paused; new sockets are refused.
        self._pause_check = pause_check
        self._open: set[_OpenSocket] = set()
        self._hub = hub
        self._sessions = sessions
        self._store = store
        self._clock = clock
        self._recordings = recordings

    @classmethod
    def configured(
        cls,
        settings: EdgeSettings,
        *,
        api_key: str | None,
        metrics: Metrics,
        hub: VoiceHub,
        sessions: SessionService,
        store: Store,
        clock: Clock,
        pause_check: Callable[[], Awaitable[None]] | None = None,
        tools: Callable[[str], Toolbox] | None = None,
    ) -> VoiceService:
        """The service the settings describe (no key: sockets hear `voice_not_configured`)."""
        return cls(
            tutor=configured_tutor(settings, api_key, metrics),
            hub=hub,
            sessions=sessions,
            store=store,
            clock=clock,
            recordings=settings.recordings_path if settings.relay.record else None,
            pause_check=pause_check,
            tools=tools,
        )

    async def serve(self, phone: PhoneSocket, device_id: str | None) -> None:
        """Talk over `phone` (for a paired device, or the owner) until it ends; then close it."""

        async def revoked() -> None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await phone.send_event(Closing(reason="revoked"))
            await phone.close()

        if device_id is not None:
            self._hub.wait(device_id, revoked)
        entry = _OpenSocket(phone)
        self._open.add(entry)
        try:
            start = await _wait_for_start(phone)
            if start is not None and not phone.closed:
                await self._converse(entry, start, device_id)
        finally:
            self._open.discard(entry)
            self._hub.unwait(revoked)
            await phone.close()

    async def close_paused(self, ends_at: datetime | None) -> None:
        """Capture was paused: every open socket gets `paused`, then `closing` paused."""
        for entry in list(self._open):
            if entry.paused:
                continue
            entry.paused = True
            if entry.relay is not None:
                entry.relay.phone_event(PausedEvent(ends_at=ends_at))  # before its `closing`
                entry.relay.close("paused")
                continue
            with contextlib.suppress(ConnectionError, RuntimeError):
                await entry.phone.send_event(PausedEvent(ends_at=ends_at))
                await entry.phone.send_event(Closing(reason="paused"))
            await entry.phone.close()

    async def _converse(
        self, entry: _OpenSocket, start: StartMessage, device_id: str | None
    ) -> None:
        phone = entry.phone
        if device_id is not None and await self._store.run(lambda db: is_revoked(db, device_id)):
            await phone.send_event(Closing(reason="revoked"))
            return
        if self._pause_check is not None:
            try:
                await self._pause_check()
            except EdgeError as exc:
                if not entry.paused:  # else told and closed already
                    await phone.send_event(ErrorEvent(code=exc.code, message=exc.message))
                    await phone.send_event(Closing(reason=exc.code))
                return
        tutor = self._tutor
        if tutor is None:
            await phone.send_event(
                ErrorEvent(
                    code="voice_not_configured",
                    message="No OpenAI API key is configured, so the voice tutor is off.",
                )
            )
            await phone.send_event(Closing(reason="voice_not_configured"))
            return
        try:
            session_id = await self._session_for(start)
        except EdgeError as exc:
            await phone.send_event(ErrorEvent(code=exc.code, message=exc.message))
            await phone.send_event(Closing(reason=exc.code))
            return
        if entry.paused:  # paused while the session was found: `closing` is already sent
            return
        relay = tutor.relay(
            phone,
            self._hub.context(session_id),
            recorder=self._recorder(session_id, tutor.settings.max_frame_bytes),
            greeting=Ready(session_id=session_id, input_rate=PHONE_RATE, output_rate=MODEL_RATE),
            toolbox=self._tools(session_id) if self._tools is not None else None,
        )
        entry.relay = relay
        self._hub.attach(session_id, relay, device_id)
        runner = asyncio.create_task(relay.run(), name="voice:relay")
        reader = asyncio.create_task(_read_phone(phone, relay), name="voice:reader")
        try:
            await asyncio.wait({runner, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also when this is cancelled (client gone, daemon stopping): end the relay and
            # wait for both tasks, so no Realtime session outlives its phone.
            relay.close("phone_closed")  # no-op when the relay ended first
            reader.cancel()
            results = await asyncio.gather(runner, reader, return_exceptions=True)
            self._hub.detach(session_id, relay)
            for result in results:
                if isinstance(result, Exception):
                    log.error("voice task failed", exc_info=result)

    async def _session_for(self, start: StartMessage) -> str:
        """The study session `start` names (it must be running), else the running or a new one."""
        if start.session_id is not None:
            await self._sessions.require_active(start.session_id)
            return start.session_id
        return self._sessions.current() or (await self._sessions.start()).session_id

    def _recorder(self, session_id: str, max_frame_bytes: int) -> Recorder | None:
        if self._recordings is None:
            return None
        return Recorder(
            self._recordings, f"{session_id}-{stamp(self._clock.now())}", max_frame_bytes
        )


async def _wait_for_start(phone: PhoneSocket) -> StartMessage | None:
    """Read until `start`; anything else first is answered with an `error` and ignored."""
    try:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            while (frame := await phone.receive()) is not None:
                if isinstance(frame, bytes):
                    await phone.send_event(
                        ErrorEvent(code="not_started", message="Send start before audio.")
                    )
                    continue
                try:
                    parsed = parse_phone_message(frame)
                except BadPhoneMessage as exc:
                    await phone.send_event(ErrorEvent(code="bad_message", message=str(exc)))
                    continue
                if isinstance(parsed, StartMessage):
                    return parsed
                if isinstance(parsed, StopMessage):
                    await phone.send_event(Closing(reason="stopped"))
                    return None
                # A playback report before start is harmless and meaningless.
    except TimeoutError:
        await phone.send_event(Closing(reason="no_start"))
    return None


async def _read_phone(phone: PhoneSocket, relay: VoiceRelay) -> None:
    """Hand the phone's frames to the relay until it stops or goes away."""
    while (frame := await phone.receive()) is not None:
        if isinstance(frame, bytes):
            relay.phone_audio(frame)
            continue
        try:
            parsed = parse_phone_message(frame)
        except BadPhoneMessage as exc:
            relay.phone_event(ErrorEvent(code="bad_message", message=str(exc)))
            continue
        if isinstance(parsed, PlaybackMessage):
            relay.phone_played(parsed.item_id, parsed.played_ms)
        elif isinstance(parsed, StopMessage):
            relay.close("stopped")
            return
        else:
            relay.phone_event(
                ErrorEvent(code="already_started", message="This socket already started.")
            )
