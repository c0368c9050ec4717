"""VoiceRelay built by hand: backpressure both ways, failing links, and a clean end of run()."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from aiohttp import web
from openai import AsyncOpenAI

import edge.voice.relay
from edge.metrics import Metrics
from edge.settings import RealtimeSettings
from edge.voice.context import StudyContext
from edge.voice.link import Connect
from edge.voice.protocol import Closing, Ready
from edge.voice.relay import VoiceRelay
from shared.topics import STUDY_TOPICS
from tests.edge.voice.voice_support import (
    BYTES_PER_MS,
    KEY,
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


@pytest.fixture(autouse=True)
def short_farewell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stuck phone gets 0.2 s instead of 2 s to take its last words."""
    monkeypatch.setattr(edge.voice.relay, "FAREWELL_SECONDS", 0.2)


class StuckPhone(CollectingPhone):
    """A phone that takes events but never finishes taking an audio frame."""

    def __init__(self) -> None:
        super().__init__()
        self.audio_calls = 0
        self._never = asyncio.Event()

    async def send_audio(self, pcm: bytes) -> None:
        """Block forever."""
        self.audio_calls += 1
        await self._never.wait()


@contextlib.asynccontextmanager
async def running(relay: VoiceRelay) -> AsyncIterator[asyncio.Task[None]]:
    """Run the relay in a task; on the way out close it and require run() to return."""
    task = asyncio.create_task(relay.run(), name="test:relay")
    try:
        yield task
    finally:
        relay.close("test_over")
        async with asyncio.timeout(RUN_LIMIT):
            await task


def voice_tasks() -> list[str]:
    """Names of the relay's tasks still alive."""
    return sorted(
        t.get_name()
        for t in asyncio.all_tasks()
        if t.get_name().startswith("voice:") and not t.done()
    )


def dropped(metrics: Metrics, direction: str) -> float:
    """studylens_voice_audio_dropped_total for one direction (0 when never counted)."""
    value = metric(metrics.exposition(), "studylens_voice_audio_dropped_total", direction=direction)
    return value or 0.0


# --- backpressure -------------------------------------------------------------------------------


async def test_a_stuck_phone_closes_the_relay_with_backpressure(
    realtime_peer: FakeRealtime,
) -> None:
    """A phone taking no audio: drops, then `backpressure`; run() returns, nothing left running."""
    realtime_peer.reply_audio_ms = 10_000
    phone = StuckPhone()
    metrics = Metrics()
    relay = make_relay(
        phone,
        peer_connect(realtime_peer),
        metrics,
        soft_limit_bytes=8 * BYTES_PER_MS * 40,  # 8 deltas of 40 ms
        hard_limit_bytes=20 * BYTES_PER_MS * 40,
    )
    task = asyncio.create_task(relay.run())
    async with asyncio.timeout(RUN_LIMIT):
        await relay.connected.wait()
        await realtime_peer.respond()
        await task
    assert relay.closing_reason == "backpressure"
    assert dropped(metrics, "to_phone") > 0
    assert dropped(metrics, "to_model") == 0
    assert phone.audio_calls == 1  # the one frame it never finished taking
    assert voice_tasks() == []
    assert metric(metrics.exposition(), "studylens_voice_sessions") == 0.0
    await eventually(lambda: realtime_peer.current.ws.closed)


async def test_a_slow_phone_does_not_stall_the_model_link(realtime_peer: FakeRealtime) -> None:
    """While the phone takes no audio (drops under the hard limit), phone audio still flows."""
    realtime_peer.reply_audio_ms = 1000
    realtime_peer.speech_threshold = 1e9
    phone = StuckPhone()
    metrics = Metrics()
    relay = make_relay(
        phone,
        peer_connect(realtime_peer),
        metrics,
        soft_limit_bytes=8 * BYTES_PER_MS * 40,
        hard_limit_bytes=100 * BYTES_PER_MS * 40,
    )
    async with running(relay):
        async with asyncio.timeout(RUN_LIMIT):
            await relay.connected.wait()
        await realtime_peer.respond()
        await realtime_peer.wait_for(lambda: len(realtime_peer.responses) == 1)
        for frame in frames(tone(440, 0.5)):
            relay.phone_audio(frame)
            await asyncio.sleep(0.005)  # frames arrive spread out, as from a phone
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 480 * BYTES_PER_MS)
        assert relay.closing_reason is None
    assert dropped(metrics, "to_phone") > 0
    assert dropped(metrics, "to_model") == 0


class StuckModel:
    """A Realtime connection whose sends never complete and which never says anything."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.appends = 0
        self._never = asyncio.Event()
        self.session = self
        self.input_audio_buffer = self

    async def update(self, **fields: Any) -> None:
        """session.update goes through (the session opens)."""
        self.updates.append(fields)

    async def send_raw(self, data: str) -> None:
        """An append that never completes."""
        self.appends += 1
        await self._never.wait()

    async def append(self, **fields: Any) -> None:
        """The SDK's typed append, also never completing."""
        await self.send_raw("")

    async def recv_bytes(self) -> bytes:
        """Nothing ever arrives."""
        await self._never.wait()
        return b""


def stuck_model_connect(model: StuckModel) -> Connect:
    """A Connect handing out the stuck model."""

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Any]:
        yield model

    return cast("Connect", connect)


async def test_a_stuck_model_link_closes_the_relay_with_backpressure() -> None:
    """A model taking no audio: phone audio dropped, then `closing` backpressure; run() returns."""
    model = StuckModel()
    phone = CollectingPhone()
    metrics = Metrics()
    chunk = 20 * BYTES_PER_MS * 4 // 3  # one 20 ms append in base64
    relay = make_relay(
        phone,
        stuck_model_connect(model),
        metrics,
        soft_limit_bytes=4 * chunk,
        hard_limit_bytes=10 * chunk,
    )
    task = asyncio.create_task(relay.run())
    async with asyncio.timeout(RUN_LIMIT):
        await relay.connected.wait()
        for frame in frames(tone(440, 1.0)):
            relay.phone_audio(frame)
        await task
    assert relay.closing_reason == "backpressure"
    assert model.appends == 1
    assert dropped(metrics, "to_model") > 0
    assert [type(e) for e in phone.events] == [Closing]
    assert cast("Closing", phone.events[-1]).reason == "backpressure"
    assert voice_tasks() == []


# --- the model link failing -----------------------------------------------------------------------


async def test_a_refusing_provider_closes_with_voice_rejected() -> None:
    """A 401 on the handshake (bad key) ends the relay at once with `voice_rejected`."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "Incorrect API key"}}, status=401)

    app = web.Application()
    app.router.add_get("/v1/realtime", refuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = AsyncOpenAI(
            api_key=KEY.get_secret_value(), websocket_base_url=f"ws://127.0.0.1:{port}/v1"
        )
        phone = CollectingPhone()
        relay = make_relay(phone, lambda: client.realtime.connect(model="gpt-realtime"))
        async with asyncio.timeout(RUN_LIMIT):
            await relay.run()
    finally:
        await runner.cleanup()
    assert relay.closing_reason == "voice_rejected"
    assert [cast("Closing", e).reason for e in phone.events] == ["voice_rejected"]


async def test_a_provider_that_never_answers_the_handshake_ends_as_model_unavailable() -> None:
    """Timed-out handshakes count as failures: `model_unavailable`, not endless "renewals"."""
    accepted: list[asyncio.StreamWriter] = []

    async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AsyncOpenAI(
        api_key=KEY.get_secret_value(), websocket_base_url=f"ws://127.0.0.1:{port}/v1"
    )

    def connect() -> Any:
        return client.realtime.connect(
            model="gpt-realtime",
            websocket_connection_options=cast("Any", {"open_timeout": 0.1}),  # websockets' option
        )

    phone = CollectingPhone()
    metrics = Metrics()
    relay = make_relay(phone, cast("Connect", connect), metrics, reconnect_attempts=1)
    task = asyncio.create_task(relay.run())
    try:
        # Two quick failures end the relay on its own; one that keeps "renewing" never ends.
        async with asyncio.timeout(RUN_LIMIT):
            await asyncio.shield(task)
    finally:
        if not task.done():
            relay.close("test_over")
            async with asyncio.timeout(RUN_LIMIT):
                await task
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    renewals = metric(metrics.exposition(), "studylens_voice_reconnects_total", reason="renewal")
    assert (renewals or 0.0) == 0.0, f"{renewals} handshake timeouts were counted as renewals"
    assert relay.closing_reason == "model_unavailable"


async def test_the_greeting_goes_to_the_phone_once_across_reconnects(
    realtime_peer: FakeRealtime,
) -> None:
    """`ready` is sent when the first session opens, not again after a reconnect."""
    phone = CollectingPhone()
    relay = VoiceRelay(
        phone=phone,
        connect=peer_connect(realtime_peer),
        settings=relay_settings(),
        link=RealtimeSettings(),
        context=StudyContext(STUDY_TOPICS),
        metrics=Metrics(),
        greeting=Ready(session_id="s1", input_rate=16_000, output_rate=24_000),
    )
    async with running(relay):
        await realtime_peer.wait_for(lambda: realtime_peer.connections == 1)
        await eventually(lambda: any(isinstance(e, Ready) for e in phone.events))
        await realtime_peer.close_current(1001)
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) == 2)
    kinds = phone.kinds()
    assert kinds.count("ready") == 1
    assert kinds[-1] == "closing"
