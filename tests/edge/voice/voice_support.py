"""Helpers for the voice relay tests: tones, phone-socket reading, polling, metrics, SINAD."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from aiohttp import ClientWebSocketResponse, WSMsgType
from pydantic import SecretStr

from edge.metrics import Metrics
from edge.settings import RealtimeSettings, RelaySettings
from edge.voice.context import StudyContext
from edge.voice.link import Connect, realtime_connector
from edge.voice.relay import PhoneSide, VoiceRelay
from edge.voice.tools import Toolbox
from shared.schemas import WireModel
from shared.topics import STUDY_TOPICS
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, StartApp

PHONE_RATE = 16_000
MODEL_RATE = 24_000
FRAME = 320  # 20 ms at 16 kHz
BYTES_PER_MS = MODEL_RATE * 2 // 1000  # PCM16 24 kHz
KEY = SecretStr("sk-test-not-a-real-key")
WAIT = 5.0  # seconds any single expected thing may take before the test fails

Samples = npt.NDArray[np.float32]


def tone(freq: float, seconds: float, level: float = 0.5) -> Samples:
    """A sine at 16 kHz as Float32."""
    t = np.arange(round(PHONE_RATE * seconds)) / PHONE_RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float) -> Samples:
    """Zeros at 16 kHz as Float32."""
    return np.zeros(round(PHONE_RATE * seconds), np.float32)


def frames(samples: Samples, sizes: tuple[int, ...] = (FRAME,)) -> list[bytes]:
    """Float32LE frames as the phone sends them: 20 ms, or the `sizes` (samples) in turn."""
    out: list[bytes] = []
    start = 0
    while start < len(samples):
        size = sizes[len(out) % len(sizes)]
        out.append(samples[start : start + size].astype("<f4").tobytes())
        start += size
    return out


async def send_audio(
    ws: ClientWebSocketResponse, samples: Samples, sizes: tuple[int, ...] = (FRAME,)
) -> None:
    """Send Float32LE samples as 20 ms frames, or as frames of the `sizes` in turn."""
    for frame in frames(samples, sizes):
        await ws.send_bytes(frame)


_ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR)


@dataclass
class Received:
    """What the phone got: JSON events in order, and the audio bytes before each event."""

    events: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    closed: bool = False
    close_code: int | None = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        """Events of one type."""
        return [e for e in self.events if e["type"] == kind]


async def read_until(
    ws: ClientWebSocketResponse,
    done: Callable[[Received], bool],
    got: Received | None = None,
    within: float = WAIT,
) -> Received:
    """Read frames into `got` until `done(got)` or the socket closes; fail after `within` s."""
    got = got if got is not None else Received()
    async with asyncio.timeout(within):
        while not done(got):
            message = await ws.receive()
            if message.type == WSMsgType.TEXT:
                got.events.append(json.loads(message.data))
            elif message.type == WSMsgType.BINARY:
                got.audio.extend(message.data)
            elif message.type in _ENDED:
                got.closed = True
                got.close_code = ws.close_code
                return got
    return got


def has(kind: str, **fields: Any) -> Callable[[Received], bool]:
    """A `done` predicate: an event of `kind` (with these field values) has arrived."""

    def check(got: Received) -> bool:
        return any(
            e["type"] == kind and all(e.get(k) == v for k, v in fields.items()) for e in got.events
        )

    return check


async def next_event(
    ws: ClientWebSocketResponse, kind: str, got: Received | None = None
) -> dict[str, Any]:
    """Read until an event of `kind`; return it (fails if the socket closes first)."""
    got = got if got is not None else Received()
    start = len(got.events)
    await read_until(ws, lambda g: any(e["type"] == kind for e in g.events[start:]), got)
    found = [e for e in got.events[start:] if e["type"] == kind]
    assert found, f"socket closed before a {kind} event; got {got.events[start:]}"
    return found[0]


async def started(ws: ClientWebSocketResponse, **start: Any) -> dict[str, Any]:
    """Send `start` and return the `ready` event."""
    await ws.send_json({"type": "start", **start})
    return await next_event(ws, "ready")


async def eventually(
    predicate: Callable[[], bool], within: float = WAIT, what: str = "the condition"
) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"{what}: not so after {within} s") from None


def metric(exposition: bytes | str, name: str, **labels: str) -> float | None:
    """One sample's value from the Prometheus text format (None when absent)."""
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    head = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        match = re.fullmatch(r"(\S+(?:\{[^}]*\})?) (\S+)", line)
        if match and match.group(1) == head:
            return float(match.group(2))
    return None


async def start_voice_app(start_app: StartApp, peer: FakeRealtime, **overrides: Any) -> AppClient:
    """The edge app with its voice tutor pointed at `peer` (context refresh unthrottled)."""
    settings: dict[str, Any] = {
        "openai_api_key": KEY,
        "realtime_url": peer.websocket_base_url,
        "voice_context_interval_seconds": 0.0,
    }
    return await start_app(**(settings | overrides))


def peer_samples(peer: FakeRealtime) -> npt.NDArray[np.float64]:
    """The audio the peer received, as floats in [-1, 1)."""
    return np.frombuffer(bytes(peer.audio), dtype="<i2").astype(np.float64) / 32768.0


def sine_fit(samples: npt.NDArray[np.float64], freq: float, rate: int) -> npt.NDArray[np.float64]:
    """The least-squares sine (with DC) at `freq` through `samples`."""
    t = np.arange(len(samples)) / rate
    basis = np.column_stack(
        [np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t), np.ones(len(samples))]
    )
    coef = np.linalg.lstsq(basis, samples, rcond=None)[0]
    fitted: npt.NDArray[np.float64] = basis @ coef
    return fitted


def sinad_db(samples: npt.NDArray[np.float64], freq: float, rate: int = MODEL_RATE) -> float:
    """Power of the fitted sine over the power of everything else, in dB."""
    fit = sine_fit(samples, freq, rate)
    residual = samples - fit
    return float(10 * np.log10(np.sum(fit**2) / np.sum(residual**2)))


def marker_event() -> dict[str, Any]:
    """A user transcript delta saying "marker", a sequence point for the phone.

    Sent by the peer after what a test waits for, it reaches the phone only after everything the
    peer sent before it.
    """
    return {
        "type": "conversation.item.input_audio_transcription.delta",
        "event_id": "event_marker",
        "item_id": "item_marker",
        "content_index": 0,
        "delta": "marker",
    }


# --- a relay built by hand ----------------------------------------------------------------------


def relay_settings(**changes: Any) -> RelaySettings:
    """Relay settings as the daemon's defaults, with `changes` (no context throttle)."""
    values: dict[str, Any] = {"context_interval_seconds": 0.0}
    return RelaySettings.model_validate(values | changes)


def peer_connect(peer: FakeRealtime) -> Connect:
    """SDK connections to the fake peer."""
    return realtime_connector(
        api_key=KEY.get_secret_value(),
        base_url=None,
        websocket_url=peer.websocket_base_url,
        model="gpt-realtime",
    )


def make_relay(
    phone: PhoneSide,
    connect: Connect,
    metrics: Metrics | None = None,
    *,
    reconnect_attempts: int | None = None,
    toolbox: Toolbox | None = None,
    **changes: Any,
) -> VoiceRelay:
    """A relay outside the daemon, with a fresh context and its own metrics."""
    return VoiceRelay(
        phone=phone,
        connect=connect,
        settings=relay_settings(**changes),
        link=RealtimeSettings(),
        context=StudyContext(STUDY_TOPICS),
        metrics=metrics or Metrics(),
        reconnect_attempts=reconnect_attempts,
        toolbox=toolbox,
    )


class CollectingPhone:
    """A phone side that keeps what it is sent."""

    def __init__(self) -> None:
        self.audio = bytearray()
        self.events: list[WireModel] = []

    async def send_audio(self, pcm: bytes) -> None:
        """Keep the audio."""
        self.audio.extend(pcm)

    async def send_event(self, event: WireModel) -> None:
        """Keep the event."""
        self.events.append(event)

    def kinds(self) -> list[str]:
        """The `type` of every event, in order."""
        return [str(getattr(e, "type", "?")) for e in self.events]
