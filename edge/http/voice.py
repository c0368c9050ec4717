"""`WS /ws`: the phone's voice channel to the tutor (the conversation is `edge.voice.service`)."""

from __future__ import annotations

from aiohttp import WSMsgType, web

from edge.errors import InvalidRequest
from edge.http.access import CALLER
from edge.http.context import services
from shared.schemas import WireModel

routes = web.RouteTableDef()

_ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


class WebSocketPhone:
    """A voice socket's phone end over an aiohttp WebSocket."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self._socket = socket

    async def send_audio(self, pcm: bytes) -> None:
        """PCM16LE 24 kHz as one binary frame."""
        await self._socket.send_bytes(pcm)

    async def send_event(self, event: WireModel) -> None:
        """A JSON text frame."""
        await self._socket.send_str(event.model_dump_json(by_alias=True))

    async def receive(self) -> bytes | str | None:
        """The next binary or text frame; None once the socket closes."""
        while True:
            message = await self._socket.receive()
            if message.type in _ENDED:
                return None
            if message.type == WSMsgType.BINARY:
                audio: bytes = message.data
                return audio
            if message.type == WSMsgType.TEXT:
                text: str = message.data
                return text
            # Anything else (an ERROR entry) is skipped, as `async for` over the socket does.

    async def close(self) -> None:
        """Close the socket."""
        await self._socket.close()

    @property
    def closed(self) -> bool:
        """Whether the socket is closed."""
        return self._socket.closed


@routes.get("/ws")
async def voice_socket(request: web.Request) -> web.WebSocketResponse:
    """Talk to the tutor: Float32 16 kHz frames in, PCM16 24 kHz frames and JSON events out."""
    s = services(request)
    socket = web.WebSocketResponse(
        heartbeat=20.0, max_msg_size=s.settings.relay.max_frame_bytes + 4096
    )
    try:
        await socket.prepare(request)
    except ValueError as exc:  # aiohttp decoding a Sec-WebSocket-Key that is not base64 text
        raise InvalidRequest("The WebSocket handshake is malformed.") from exc
    await s.voice_service.serve(WebSocketPhone(socket), request[CALLER].device_id)
    return socket
