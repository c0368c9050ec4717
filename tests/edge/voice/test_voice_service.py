"""VoiceService serves any phone socket: the conversation needs no HTTP, only `PhoneSocket`."""

from __future__ import annotations

import asyncio
import json

from edge.voice.audio import MODEL_RATE, PHONE_RATE
from shared.schemas import WireModel
from tests.edge.voice.voice_support import WAIT, eventually, frames, tone
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, services_of


class QueuedPhone:
    """A phone socket fed by the test through a queue; keeps what it is sent."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.events: list[dict[str, object]] = []
        self.audio = bytearray()
        self.closed = False

    async def send_audio(self, pcm: bytes) -> None:
        """Keep the audio."""
        self.audio.extend(pcm)

    async def send_event(self, event: WireModel) -> None:
        """Keep the event as the phone would read it."""
        self.events.append(json.loads(event.model_dump_json(by_alias=True)))

    async def receive(self) -> bytes | str | None:
        """The next frame the test queued (None: the phone went away)."""
        if self.closed:
            return None
        return await self.inbox.get()

    async def close(self) -> None:
        """Closed: no more frames."""
        self.closed = True

    def kinds(self) -> list[object]:
        """The `type` of every event, in order."""
        return [e["type"] for e in self.events]


async def test_a_conversation_over_a_socket_of_any_kind(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """`start` gets `ready`, audio reaches the model, `stop` gets `closing`; the relay ends."""
    phone = QueuedPhone()
    service = services_of(voice_client).voice_service
    served = asyncio.create_task(service.serve(phone, None))
    await phone.inbox.put(json.dumps({"type": "start"}))
    await eventually(lambda: "ready" in phone.kinds())
    ready = phone.events[0]
    assert (ready["inputRate"], ready["outputRate"]) == (PHONE_RATE, MODEL_RATE)
    for frame in frames(tone(440, 0.2)):
        await phone.inbox.put(frame)
    await realtime_peer.wait_for(lambda: len(realtime_peer.audio) > 0)
    await phone.inbox.put(json.dumps({"type": "stop"}))
    async with asyncio.timeout(WAIT):
        await served
    assert phone.kinds()[-1] == "closing"
    assert phone.events[-1]["reason"] == "stopped"
    assert phone.closed
    assert services_of(voice_client).voice.live == 0
    await eventually(lambda: realtime_peer.current.ws.closed)
