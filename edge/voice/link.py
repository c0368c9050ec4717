"""The Realtime link: the seam between the relay and the OpenAI Realtime API (`openai` SDK).

The relay opens a `RealtimeLink`, sends it a few typed client events, iterates its typed server
events and sees only the link's own errors: the SDK connection and the exceptions of the SDK and
of `websockets` stay in here, mapped where they enter (as httpx maps httpcore's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from types import TracebackType

from openai import AsyncOpenAI, OpenAIError
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime.realtime_audio_config_input_param import (
    RealtimeAudioConfigInputParam,
)
from openai.types.realtime.realtime_audio_formats_param import AudioPCM
from openai.types.realtime.realtime_audio_input_turn_detection_param import (
    RealtimeAudioInputTurnDetectionParam,
)
from openai.types.realtime.realtime_function_tool_param import RealtimeFunctionToolParam
from openai.types.realtime.realtime_session_create_request_param import (
    RealtimeSessionCreateRequestParam,
)
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
)

from edge.errors import EdgeError
from edge.settings import RealtimeSettings
from edge.settings import Vad as Vad  # re-exported: the link's own vocabulary
from edge.voice.audio import MODEL_RATE, append_event
from edge.voice.events import ServerEvent, UnreadableEvent, parse_server_event

Connect = Callable[[], AbstractAsyncContextManager[AsyncRealtimeConnection]]

#: Close codes after which a new Realtime session is worth trying (going away, abnormal, restart).
RECOVERABLE = {1000, 1001, 1006, 1011, 1012, 1013}


class LinkError(EdgeError):
    """The Realtime link failed: unreachable, timed out, or broken mid-session."""

    http_status = 502
    code = "model_unavailable"


class LinkRejected(LinkError):
    """The provider refused the handshake itself (HTTP 401 or 403: the API key)."""

    code = "voice_rejected"


class LinkClosed(LinkError):
    """The provider closed the session with a WebSocket close code."""

    code = "model_closed"

    def __init__(self, close_code: int) -> None:
        super().__init__(f"The realtime link closed with code {close_code}.")
        self.close_code = close_code

    @property
    def recoverable(self) -> bool:
        """Whether a new session is worth trying after this close."""
        return self.close_code in RECOVERABLE


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Raise the SDK's and the transport's failures as the link's own errors."""
    try:
        yield
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise LinkRejected("The provider refused the API key.") from exc
        raise LinkError(f"The realtime handshake failed with HTTP {status}.") from exc
    except ConnectionClosed as exc:
        raise LinkClosed(exc.rcvd.code if exc.rcvd is not None else 1006) from exc
    except (OSError, InvalidHandshake, OpenAIError) as exc:  # TimeoutError is an OSError
        raise LinkError(f"The realtime link failed: {exc!r}.") from exc


class RealtimeLink:
    """One Realtime session: `async with RealtimeLink(connect) as link`, then `async for`."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._manager: AbstractAsyncContextManager[AsyncRealtimeConnection] | None = None
        self._connection: AsyncRealtimeConnection | None = None

    async def __aenter__(self) -> RealtimeLink:
        with _mapped_errors():
            self._manager = self._connect()
            self._connection = await self._manager.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        manager, self._manager, self._connection = self._manager, None, None
        if manager is not None:
            with _mapped_errors():
                await manager.__aexit__(exc_type, exc, tb)

    @property
    def _open(self) -> AsyncRealtimeConnection:
        if self._connection is None:
            raise LinkError("The realtime link is not open.")
        return self._connection

    # --- client events ----------------------------------------------------------------------

    async def update_session(self, session: RealtimeSessionCreateRequestParam) -> None:
        """`session.update`."""
        with _mapped_errors():
            await self._open.session.update(session=session)

    async def append_audio(self, chunk: str) -> None:
        """`input_audio_buffer.append` of one base64 PCM16 chunk."""
        # 50 appends a second per phone: the SDK's typed send runs a transform over the whole
        # client-event union each time (about 1 ms, measured), so the hot path sends the same
        # JSON itself.
        with _mapped_errors():
            await self._open.send_raw(append_event(chunk))

    async def cancel_response(self) -> None:
        """`response.cancel` of the response in progress."""
        with _mapped_errors():
            await self._open.response.cancel()

    async def send_function_output(self, call_id: str, output: str) -> None:
        """`conversation.item.create` of the `function_call_output` answering `call_id`."""
        with _mapped_errors():
            await self._open.conversation.item.create(
                item={"type": "function_call_output", "call_id": call_id, "output": output}
            )

    async def create_response(self) -> None:
        """`response.create`: the model speaks on (after tool outputs)."""
        with _mapped_errors():
            await self._open.response.create()

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        """`conversation.item.truncate`: the assistant item's audio ends at `audio_end_ms`."""
        with _mapped_errors():
            await self._open.conversation.item.truncate(
                item_id=item_id, content_index=0, audio_end_ms=audio_end_ms
            )

    # --- server events ----------------------------------------------------------------------

    def __aiter__(self) -> RealtimeLink:
        return self

    async def __anext__(self) -> ServerEvent | UnreadableEvent:
        """The next server event; the iteration ends when the provider closes normally."""
        while True:
            with _mapped_errors():
                try:
                    raw = await self._open.recv_bytes()
                except ConnectionClosedOK:  # 1000 or 1001 both ways: the session is over
                    raise StopAsyncIteration from None
            event = parse_server_event(raw)
            if event is not None:
                return event


def realtime_connector(
    *, api_key: str, base_url: str | None, websocket_url: str | None, model: str
) -> Connect:
    """A factory of SDK connections: `websocket_url`, else derived from the HTTP base URL."""
    client = AsyncOpenAI(api_key=api_key, base_url=base_url, websocket_base_url=websocket_url)

    def connect() -> AbstractAsyncContextManager[AsyncRealtimeConnection]:
        # The SDK's own reconnect is left off: the relay reconnects itself, because it must
        # re-send the instructions and the study context on every new session.
        return client.realtime.connect(model=model)

    return connect


def session_config(
    settings: RealtimeSettings,
    instructions: str,
    tools: list[RealtimeFunctionToolParam] | None = None,
) -> RealtimeSessionCreateRequestParam:
    """The `session` of a `session.update`: PCM 24 kHz, VAD, transcription, voice, tools."""
    pcm: AudioPCM = {"type": "audio/pcm", "rate": MODEL_RATE}
    turn_detection: RealtimeAudioInputTurnDetectionParam = (
        {"type": "server_vad"}
        if settings.vad == "server_vad"
        else {"type": "semantic_vad", "eagerness": settings.vad_eagerness}
    )
    audio_input: RealtimeAudioConfigInputParam = {
        "format": pcm,
        "turn_detection": turn_detection,
        "transcription": {"model": settings.transcription_model},
    }
    if settings.noise_reduction != "off":
        audio_input["noise_reduction"] = {"type": settings.noise_reduction}
    config: RealtimeSessionCreateRequestParam = {
        "type": "realtime",
        "model": settings.model,
        "output_modalities": ["audio"],
        "instructions": instructions,
        "audio": {"input": audio_input, "output": {"format": pcm, "voice": settings.voice}},
    }
    if tools:
        config["tools"] = list(tools)
        config["tool_choice"] = "auto"
    return config


def instructions_update(instructions: str) -> RealtimeSessionCreateRequestParam:
    """The `session` of a `session.update` that only refreshes the instructions."""
    return {"type": "realtime", "instructions": instructions}
