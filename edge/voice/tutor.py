"""The voice tutor as configured: the one place settings become relays, for daemon and CLI alike."""

from __future__ import annotations

from dataclasses import dataclass

from edge.metrics import Metrics
from edge.settings import EdgeSettings, RealtimeSettings, RelaySettings
from edge.voice.context import StudyContext
from edge.voice.link import Connect, realtime_connector
from edge.voice.recording import Recorder
from edge.voice.relay import PhoneSide, VoiceRelay
from edge.voice.tools import Toolbox
from shared.schemas import WireModel


@dataclass(frozen=True)
class Tutor:
    """Makes the relays of one configuration: its Realtime connections, settings and metrics."""

    connect: Connect
    settings: RelaySettings
    realtime: RealtimeSettings
    metrics: Metrics

    def relay(
        self,
        phone: PhoneSide,
        context: StudyContext,
        *,
        recorder: Recorder | None = None,
        greeting: WireModel | None = None,
        toolbox: Toolbox | None = None,
    ) -> VoiceRelay:
        """A relay between `phone` and a new Realtime session, steered by `context`."""
        return VoiceRelay(
            phone=phone,
            connect=self.connect,
            settings=self.settings,
            link=self.realtime,
            context=context,
            metrics=self.metrics,
            recorder=recorder,
            greeting=greeting,
            toolbox=toolbox,
        )


def configured_tutor(settings: EdgeSettings, api_key: str | None, metrics: Metrics) -> Tutor | None:
    """The tutor the settings describe, or None without an API key (the tutor is off)."""
    if api_key is None:
        return None
    connect = realtime_connector(
        api_key=api_key,
        base_url=settings.openai.base_url,
        websocket_url=settings.realtime.url,
        model=settings.realtime.model,
    )
    return Tutor(
        connect=connect, settings=settings.relay, realtime=settings.realtime, metrics=metrics
    )
