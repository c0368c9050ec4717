"""What handlers reach through the app: the services wired by the app factory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from aiohttp import web

from edge.events import EventBus
from edge.frames.originals import OriginalStore
from edge.frames.pipeline import FramePipeline
from edge.lockout import Lockout
from edge.memory.making import CardMaking, CardWorker
from edge.memory.review import ReviewService
from edge.metrics import Metrics
from edge.privacy.forget import ForgetService
from edge.privacy.pause import PauseService
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync.credentials import CredentialStore
from edge.sync.worker import SyncWorker
from edge.tasks import Supervisor
from edge.tls import Certificate
from edge.voice.hub import VoiceHub
from edge.voice.service import VoiceService
from shared.clock import Clock


@dataclass(frozen=True)
class Services:
    """The daemon's parts, as wired by `edge.app.create_app`."""

    settings: EdgeSettings
    clock: Clock
    zone: tzinfo
    store: Store
    sessions: SessionService
    supervisor: Supervisor
    started_at: datetime
    metrics: Metrics
    originals: OriginalStore
    frames: FramePipeline
    voice: VoiceHub
    voice_service: VoiceService
    lockout: Lockout
    certificate: Certificate | None
    credentials: CredentialStore
    sync: SyncWorker | None
    events: EventBus
    pause: PauseService
    forget: ForgetService
    review: ReviewService
    card_making: CardMaking
    card_worker: CardWorker


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    """Return the services of the app serving `request`."""
    return request.app[SERVICES]
