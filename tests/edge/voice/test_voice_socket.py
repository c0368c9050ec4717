"""WS /ws end to end: the phone, the relay, and the real SDK against the fake Realtime peer."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from aiohttp import ClientWebSocketResponse, WSMsgType

from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient

FRAME = 320  # 20 ms at 16 kHz


def tone(freq: float, seconds: float, level: float = 0.5) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A sine at 16 kHz as Float32."""
    t = np.arange(int(16_000 * seconds)) / 16_000
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


async def next_event(ws: ClientWebSocketResponse, kind: str, limit: int = 500) -> dict[str, Any]:
    """Read frames until a JSON event of `kind` (audio frames are skipped)."""
    for _ in range(limit):
        message = await ws.receive(timeout=5)
        if message.type == WSMsgType.TEXT:
            event: dict[str, Any] = json.loads(message.data)
            if event["type"] == kind:
                return event
        elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            raise AssertionError(f"socket closed while waiting for {kind}")
    raise AssertionError(f"no {kind} event")


async def send_audio(ws: ClientWebSocketResponse, samples: np.ndarray[Any, Any]) -> None:
    """Send Float32LE samples as 20 ms frames."""
    for start in range(0, len(samples), FRAME):
        await ws.send_bytes(samples[start : start + FRAME].astype("<f4").tobytes())


async def test_start_opens_a_realtime_session_and_says_ready(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """`start` gets `ready`; the model session is PCM 24 kHz with VAD, voice and transcription."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start"})
        ready = await next_event(ws, "ready")
        assert (ready["inputRate"], ready["outputRate"]) == (16_000, 24_000)
        [session] = realtime_peer.session_updates
        audio = session["audio"]
        assert audio["input"]["format"] == {"type": "audio/pcm", "rate": 24_000}
        assert audio["output"]["format"] == {"type": "audio/pcm", "rate": 24_000}
        assert audio["input"]["turn_detection"]["type"] == "server_vad"
        assert audio["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
        assert audio["output"]["voice"] == "marin"
        assert "study tutor" in session["instructions"]


async def test_tutor_answers_with_audio_and_transcripts(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """Speech then silence makes the peer answer; the phone gets PCM16 and a final transcript."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start"})
        await next_event(ws, "ready")
        await send_audio(ws, np.concatenate([tone(440, 0.6), np.zeros(8000, np.float32)]))
        received = 0
        final = None
        for _ in range(500):
            message = await ws.receive(timeout=5)
            if message.type == WSMsgType.BINARY:
                received += len(message.data)
            elif message.type == WSMsgType.TEXT:
                event = json.loads(message.data)
                if (
                    event["type"] == "transcript"
                    and event["role"] == "assistant"
                    and event["final"]
                ):
                    final = event
                    break
        assert final is not None
        assert received == realtime_peer.reply_audio_ms * 48  # 24 kHz x 2 bytes per ms
