"""`WS /ws`: the phone's voice channel to the tutor."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSMsgType, web

from edge.errors import EdgeError, InvalidRequest
from edge.http.access import CALLER
from edge.http.context import Services, services
from edge.pairing import is_revoked
from edge.voice.audio import MODEL_RATE, PHONE_RATE
from edge.voice.protocol import (
    BadPhoneMessage,
    Closing,
    ErrorEvent,
    PlaybackMessage,
    Ready,
    StartMessage,
    StopMessage,
    parse_phone_message,
)
from edge.voice.recording import Recorder
from edge.voice.relay import VoiceRelay
from shared.schemas import WireModel

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

#: How long a new socket may stay silent before its `start`.
START_TIMEOUT_SECONDS = 30.0


class WebSocketPhone:
    """The relay's phone side over an aiohttp WebSocket."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self._socket = socket

    async def send_audio(self, pcm: bytes) -> None:
        """PCM16LE 24 kHz as one binary frame."""
        await self._socket.send_bytes(pcm)

    async def send_event(self, event: WireModel) -> None:
        """A JSON text frame."""
        await self._socket.send_str(event.model_dump_json(by_alias=True))


@routes.get("/ws")
async def voice_socket(request: web.Request) -> web.WebSocketResponse:
    """Talk to the tutor: Float32 16 kHz frames in, PCM16 24 kHz frames and JSON events out."""
    s = services(request)
    socket = web.WebSocketResponse(
        heartbeat=20.0, max_msg_size=s.settings.voice_max_frame_bytes + 4096
    )
    try:
        await socket.prepare(request)
    except ValueError as exc:  # aiohttp decoding a Sec-WebSocket-Key that is not base64 text
        raise InvalidRequest("The WebSocket handshake is malformed.") from exc
    phone = WebSocketPhone(socket)
    device = request[CALLER].device_id

    async def revoked() -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await phone.send_event(Closing(reason="revoked"))
        await socket.close()

    if device is not None:
        s.voice.wait(device, revoked)
    try:
        start = await _wait_for_start(socket, phone)
        if start is not None and not socket.closed:
            await _converse(s, socket, phone, start, device)
    finally:
        s.voice.unwait(revoked)
        await socket.close()
    return socket


async def _wait_for_start(
    socket: web.WebSocketResponse, phone: WebSocketPhone
) -> StartMessage | None:
    """Read until `start`; anything else first is answered with an `error` and ignored."""
    try:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    try:
                        parsed = parse_phone_message(message.data)
                    except BadPhoneMessage as exc:
                        await phone.send_event(ErrorEvent(code="bad_message", message=str(exc)))
                        continue
                    if isinstance(parsed, StartMessage):
                        return parsed
                    if isinstance(parsed, StopMessage):
                        await phone.send_event(Closing(reason="stopped"))
                        return None
                    # A playback report before start is harmless and meaningless.
                    continue
                if message.type == WSMsgType.BINARY:
                    await phone.send_event(
                        ErrorEvent(code="not_started", message="Send start before audio.")
                    )
    except TimeoutError:
        await phone.send_event(Closing(reason="no_start"))
    return None


async def _converse(
    s: Services,
    socket: web.WebSocketResponse,
    phone: WebSocketPhone,
    start: StartMessage,
    request_device: str | None,
) -> None:
    if request_device is not None and await s.store.run(lambda db: is_revoked(db, request_device)):
        await phone.send_event(Closing(reason="revoked"))
        return
    connect = s.voice_connect
    if connect is None:
        await phone.send_event(
            ErrorEvent(
                code="voice_not_configured",
                message="No OpenAI API key is configured, so the voice tutor is off.",
            )
        )
        await phone.send_event(Closing(reason="voice_not_configured"))
        return
    try:
        if start.session_id is not None:
            await s.sessions.require_active(start.session_id)
            session_id = start.session_id
        else:
            session_id = s.sessions.current() or (await s.sessions.start()).session_id
    except EdgeError as exc:
        await phone.send_event(ErrorEvent(code=exc.code, message=exc.message))
        await phone.send_event(Closing(reason=exc.code))
        return
    settings = s.settings
    recorder = None
    if settings.voice_record:
        stamp = s.clock.now().strftime("%Y%m%dT%H%M%SZ")
        recorder = Recorder(
            settings.data_dir / "recordings",
            f"{session_id}-{stamp}",
            settings.voice_max_frame_bytes,
        )
    relay = VoiceRelay(
        phone=phone,
        connect=connect,
        settings=s.relay_settings,
        context=s.voice.context(session_id),
        metrics=s.metrics,
        recorder=recorder,
        greeting=Ready(session_id=session_id, input_rate=PHONE_RATE, output_rate=MODEL_RATE),
    )
    s.voice.attach(session_id, relay, request_device)
    runner = asyncio.create_task(relay.run(), name="voice:relay")
    reader = asyncio.create_task(_read_phone(socket, phone, relay), name="voice:reader")
    try:
        await asyncio.wait({runner, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also when this handler is cancelled (client gone, daemon stopping): end the relay
        # and wait for both tasks, so no Realtime session outlives its phone.
        relay.close("phone_closed")  # no-op when the relay ended first
        reader.cancel()
        results = await asyncio.gather(runner, reader, return_exceptions=True)
        s.voice.detach(session_id, relay)
        for result in results:
            if isinstance(result, Exception):
                log.error("voice task failed", exc_info=result)


async def _read_phone(
    socket: web.WebSocketResponse, phone: WebSocketPhone, relay: VoiceRelay
) -> None:
    """Hand the phone's frames to the relay until it stops or goes away."""
    async for message in socket:
        if message.type == WSMsgType.BINARY:
            relay.phone_audio(message.data)
        elif message.type == WSMsgType.TEXT:
            try:
                parsed = parse_phone_message(message.data)
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
