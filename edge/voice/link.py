"""The Realtime link: one connection to the OpenAI Realtime API through the `openai` SDK."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from edge.voice.audio import MODEL_RATE

Connect = Callable[[], AbstractAsyncContextManager[AsyncRealtimeConnection]]
Vad = Literal["server_vad", "semantic_vad"]


@dataclass(frozen=True)
class LinkSettings:
    """What a Realtime session is opened with."""

    model: str
    voice: str
    vad: Vad
    transcription_model: str


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


def session_config(settings: LinkSettings, instructions: str) -> dict[str, Any]:
    """The `session` of a `session.update`: PCM 24 kHz both ways, VAD, transcription, voice."""
    pcm = {"type": "audio/pcm", "rate": MODEL_RATE}
    return {
        "type": "realtime",
        "model": settings.model,
        "output_modalities": ["audio"],
        "instructions": instructions,
        "audio": {
            "input": {
                "format": pcm,
                "turn_detection": {"type": settings.vad},
                "transcription": {"model": settings.transcription_model},
            },
            "output": {"format": pcm, "voice": settings.voice},
        },
    }
