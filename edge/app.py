"""The app factory: the one place where the edge daemon's parts are wired together."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import sqlite_utils
from aiohttp import web
from openai import AsyncOpenAI

from edge.discovery import Advert, Advertiser, advertise_interfaces, default_instance_name
from edge.events import EventBus
from edge.frames.dedupe import DuplicateGate
from edge.frames.pipeline import FramePipeline
from edge.http import (
    analytics,
    dashboard,
    frames,
    health,
    memory,
    metrics,
    moments,
    pairing,
    privacy,
    report,
    sessions,
    sync,
    voice,
)
from edge.http.access import check_decisions
from edge.http.auth import HostGuard, auth_middleware
from edge.http.context import SERVICES, Services
from edge.http.envelope import envelope_middleware, timing_middleware
from edge.http.limits import limits_middleware
from edge.http.requests_log import requests_log_middleware, tag_response
from edge.lockout import Lockout
from edge.memory.cloze import ClozeMaker
from edge.memory.making import CardMaking, CardWorker
from edge.memory.openai_cards import OpenAICards
from edge.memory.port import CardMaker
from edge.memory.review import ReviewService
from edge.memory.scheduler import Scheduler
from edge.metrics import Metrics
from edge.pairing import daemon_id, pairing_open, revoked_ids
from edge.privacy.forget import ForgetService
from edge.privacy.pause import PauseService, PauseState
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync.build import cloud_http, credential_store, original_store, sync_worker
from edge.sync.worker import SyncWorker
from edge.tasks import Supervisor, every, watch_loop_lag
from edge.tls import ensure_certificate
from edge.vision.hybrid import HybridVision
from edge.vision.local import LocalVision
from edge.vision.openai_vision import OpenAIVision
from edge.vision.port import VisionAnalyser
from edge.voice.hub import VoiceHub
from edge.voice.recording import prune_recordings
from edge.voice.service import VoiceService
from edge.voice.study_tools import study_toolbox
from shared.clock import Clock, SystemClock

log = logging.getLogger(__name__)
#: How often voice recordings past their retention are looked for (and once at start).
RECORDINGS_CHECK_SECONDS = 3600.0


def create_app(settings: EdgeSettings, clock: Clock | None = None) -> web.Application:
    """Build the daemon's aiohttp application; the store opens when the app starts."""
    clock = clock or SystemClock()
    zone = settings.zone
    store = Store(settings.database_path)
    session_service = SessionService(
        store, clock, zone, idle_after=timedelta(minutes=settings.sessions.idle_minutes)
    )
    supervisor = Supervisor()
    originals = original_store(settings)
    meters = Metrics()
    vision = make_vision(settings, meters)
    pause = PauseService(store, clock)
    pipeline = FramePipeline(
        store=store,
        originals=originals,
        sessions=session_service,
        vision=vision,
        gate=DuplicateGate(
            settings.frames.duplicate_max_distance, enabled=settings.frames.dedupe_frames
        ),
        clock=clock,
        limits=settings.frames,
        metrics=meters,
        pause_check=pause.require_unpaused,
    )
    hub = VoiceHub(settings.frames.topics)
    pipeline.add_hook("voice", hub.on_frame)
    credentials = credential_store(settings)
    sync_http: httpx.AsyncClient | None = None
    worker: SyncWorker | None = None
    if settings.sync.enabled:
        sync_http = cloud_http(settings)
        worker = sync_worker(
            settings,
            store=store,
            http=sync_http,
            clock=clock,
            originals=originals,
            credentials=credentials,
            metrics=meters,
        )
        pipeline.add_hook("sync", worker.on_frame)
    bus = EventBus()
    pipeline.add_hook("dashboard", bus.on_frame)
    session_service.add_listener(bus.on_session)
    making = card_making(settings, store, clock, meters)
    # Cards are made after a session ends, in the background: never on a frame's path, never
    # before the end's answer.
    card_worker = CardWorker(making, store, clock)
    session_service.add_listener(card_worker.on_session)
    review = ReviewService(
        store, Scheduler(), clock, zone, linked=lambda: credentials.load() is not None
    )
    voice_service = VoiceService.configured(
        settings,
        api_key=openai_key(settings),
        metrics=meters,
        hub=hub,
        sessions=session_service,
        store=store,
        clock=clock,
        pause_check=pause.require_unpaused,
        tools=lambda session_id: study_toolbox(
            session_id, store=store, clock=clock, zone=zone, review=review, metrics=meters
        ),
    )

    async def pause_voice(state: PauseState) -> None:
        if state.paused:
            await voice_service.close_paused(state.ends_at)

    pause.add_listener(pause_voice)
    pause.add_listener(bus.on_pause)
    app = web.Application(
        middlewares=[
            requests_log_middleware,
            timing_middleware,
            envelope_middleware,
            limits_middleware(settings.limits),
            auth_middleware(
                store,
                HostGuard(settings.access.allowed_hosts),
                open_on_localhost=settings.access.open_on_localhost,
            ),
        ],
        client_max_size=settings.limits.max_json_body_bytes,
    )
    app.on_response_prepare.append(tag_response)
    app[SERVICES] = Services(
        settings=settings,
        clock=clock,
        zone=zone,
        store=store,
        sessions=session_service,
        supervisor=supervisor,
        started_at=clock.now(),
        metrics=meters,
        originals=originals,
        frames=pipeline,
        voice=hub,
        voice_service=voice_service,
        lockout=Lockout(),
        certificate=ensure_certificate(settings.data_dir) if settings.tls else None,
        credentials=credentials,
        sync=worker,
        events=bus,
        pause=pause,
        forget=ForgetService.configured(
            settings, store, clock, credentials=credentials, sessions=session_service
        ),
        review=review,
        card_making=making,
        card_worker=card_worker,
    )
    for table in (
        health.routes,
        metrics.routes,
        pairing.routes,
        privacy.routes,
        sessions.routes,
        analytics.routes,
        report.routes,
        moments.routes,
        memory.routes,
        frames.routes,
        voice.routes,
        sync.routes,
        dashboard.routes,
    ):
        app.router.add_routes(table)
    app.router.add_static("/static/", dashboard.STATIC, append_version=True)
    check_decisions(app)

    async def end_revoked_streams() -> None:
        # Revocation may come from the CLI, another process: look, once a second.
        revoked = await store.run(revoked_ids)
        await hub.close_devices(revoked, "revoked")
        bus.close_devices(revoked)

    certificate = app[SERVICES].certificate
    advertiser: Advertiser | None = None

    async def current_advert() -> Advert:
        def read(db: sqlite_utils.Database) -> tuple[str, bool]:
            return daemon_id(db), pairing_open(db, clock.now())

        device, open_ = await store.run(read)
        return Advert(
            instance=settings.discovery.name or default_instance_name(),
            port=settings.port,
            device_id=device,
            pairing_open=open_,
            tls_fingerprint=certificate.fingerprint if certificate else None,
        )

    async def prune_old_recordings() -> None:
        # Recordings of any age, also those made while `voice_record` was on and is off now.
        await asyncio.to_thread(
            prune_recordings,
            settings.recordings_path,
            clock.now(),
            settings.relay.recording_retention_days,
        )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        nonlocal advertiser
        # An export a stopped daemon was building: the student's data, never left lying about.
        await asyncio.to_thread(shutil.rmtree, settings.temp_path, ignore_errors=True)
        await store.open()
        await session_service.load()
        supervisor.start(
            "idle-sessions",
            lambda: every(settings.sessions.idle_check_seconds, session_service.end_idle),
        )
        supervisor.start("loop-lag", lambda: watch_loop_lag(meters.loop_lag.observe))
        supervisor.start("revocations", lambda: every(1.0, end_revoked_streams))
        # A pause or resume by the CLI, or a pause's end, reaches sockets and pages in a second.
        supervisor.start("pause", lambda: every(1.0, pause.check))
        supervisor.start(
            "recordings", lambda: every(RECORDINGS_CHECK_SECONDS, prune_old_recordings)
        )
        supervisor.start("cards", card_worker.run)
        if worker is not None:
            supervisor.start("sync", worker.run)
        if settings.discovery.enabled:
            mdns = Advertiser(
                await current_advert(), interfaces=advertise_interfaces(settings.host)
            )
            advertiser = mdns
            # Re-reads addresses and the pairing state every 10 s (a code opened by the CLI).
            supervisor.start("mdns", lambda: mdns.watch(10.0, current_advert))
        log.info("store open at %s", settings.database_path)
        try:
            yield
        finally:
            await supervisor.stop()
            if advertiser is not None:
                await advertiser.stop()
            await pipeline.close()
            if sync_http is not None:
                await sync_http.aclose()
            if vision is not None:
                await vision.close()
            await making.close()
            await store.close()

    async def end_voice(app: web.Application) -> None:
        # Before the handlers are waited for: open sockets would otherwise hold shutdown up.
        hub.close_all("shutdown")
        bus.close()

    app.on_shutdown.append(end_voice)
    app.cleanup_ctx.append(lifecycle)
    return app


def openai_key(settings: EdgeSettings) -> str | None:
    """The OpenAI key: the daemon's setting, else the SDK's usual $OPENAI_API_KEY."""
    api_key = settings.openai.api_key
    key = api_key.get_secret_value() if api_key else None
    return key or os.environ.get("OPENAI_API_KEY") or None


def vision_backend(settings: EdgeSettings) -> str:
    """The backend in effect: `auto` is the model when a key is set, else on-device."""
    if settings.vision.backend != "auto":
        return settings.vision.backend
    return "openai" if openai_key(settings) else "local"


def make_vision(settings: EdgeSettings, metrics: Metrics | None = None) -> VisionAnalyser | None:
    """The analyser the settings ask for; None (frames get 503) when the model has no key."""
    backend = vision_backend(settings)
    if backend == "local":
        return make_local_vision(settings)
    key = openai_key(settings)
    if not key:
        log.warning("no OpenAI API key: frames will be answered with vision_not_configured")
        return None
    client = AsyncOpenAI(
        api_key=key,
        base_url=settings.openai.base_url,  # None: the SDK reads $OPENAI_BASE_URL
        timeout=settings.vision.timeout_seconds,
        max_retries=settings.vision.max_retries,
    )
    model = OpenAIVision(
        client,
        model=settings.vision.model,
        detail=settings.vision.detail,
        topics=settings.frames.topics,
        max_text_chars=settings.frames.extracted_text_max_chars,
    )
    if backend == "hybrid":
        return HybridVision(make_local_vision(settings), model, settings.hybrid, metrics)
    return model


def make_card_maker(settings: EdgeSettings) -> CardMaker:
    """The model with a key (unless frames are read on-device only), else on-device clozes.

    `vision_backend = "local"` keeps page text on the computer for cards as for frames.
    """
    key = openai_key(settings)
    if vision_backend(settings) == "local" or not key:
        return ClozeMaker()
    client = AsyncOpenAI(
        api_key=key,
        base_url=settings.openai.base_url,
        timeout=settings.vision.timeout_seconds,
        max_retries=settings.vision.max_retries,
    )
    return OpenAICards(client, model=settings.vision.model)


def card_making(
    settings: EdgeSettings, store: Store, clock: Clock, metrics: Metrics | None = None
) -> CardMaking:
    """Card making as the settings ask, for the daemon and `studylens-edge cards make`."""
    return CardMaking(
        store,
        make_card_maker(settings),
        clock,
        per_session=settings.cards.per_session,
        metrics=metrics,
    )


def make_local_vision(settings: EdgeSettings) -> LocalVision:
    """The on-device analyser, its runtime caches in the data dir."""
    return LocalVision(
        cache_dir=settings.data_dir / "cache",
        max_text_chars=settings.frames.extracted_text_max_chars,
        threads=settings.vision.ocr_threads,
    )
