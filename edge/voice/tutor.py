"""The voice tutor as configured: the one place settings become relays, for daemon and CLI alike."""

from __future__ import annotations

from dataclasses import dataclass

from edge.metrics import Metrics
from edge.settings import EdgeSettings
from edge.voice.context import StudyContext
from edge.voice.link import Connect, LinkSettings, realtime_connector
from edge.voice.recording import Recorder
from edge.voice.relay import PhoneSide, RelaySettings, VoiceRelay
from shared.schemas import WireModel


def relay_settings(settings: EdgeSettings) -> RelaySettings:
    """The voice relay's part of the settings."""
    return RelaySettings(
        link=LinkSettings(
            model=settings.realtime_model,
            voice=settings.voice,
            vad=settings.voice_vad,
            transcription_model=settings.voice_transcription_model,
        ),
        resampler=settings.voice_resampler,
        frame_ms=settings.voice_frame_ms,
        max_frame_bytes=settings.voice_max_frame_bytes,
        soft_limit_bytes=settings.voice_soft_limit_bytes,
        hard_limit_bytes=settings.voice_hard_limit_bytes,
        session_max_seconds=settings.voice_session_max_minutes * 60,
        context_interval_seconds=settings.voice_context_interval_seconds,
    )


@dataclass(frozen=True)
class Tutor:
    """Makes the relays of one configuration: its Realtime connections, settings and metrics."""

    connect: Connect
    settings: RelaySettings
    metrics: Metrics

    def relay(
        self,
        phone: PhoneSide,
        context: StudyContext,
        *,
        recorder: Recorder | None = None,
        greeting: WireModel | None = None,
    ) -> VoiceRelay:
        """A relay between `phone` and a new Realtime session, steered by `context`."""
        return VoiceRelay(
            phone=phone,
            connect=self.connect,
            settings=self.settings,
            context=context,
            metrics=self.metrics,
            recorder=recorder,
            greeting=greeting,
        )


def configured_tutor(settings: EdgeSettings, api_key: str | None, metrics: Metrics) -> Tutor | None:
    """The tutor the settings describe, or None without an API key (the tutor is off)."""
    if api_key is None:
        return None
    connect = realtime_connector(
        api_key=api_key,
        base_url=settings.openai_base_url,
        websocket_url=settings.realtime_url,
        model=settings.realtime_model,
    )
    return Tutor(connect=connect, settings=relay_settings(settings), metrics=metrics)
