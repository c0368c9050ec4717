"""The frame pipeline, the hot path: one uploaded frame in, one analysis out.

sniff -> session -> prepare (off the loop) -> keep original (beside the model call, unless
`keep_originals` is off) -> near-duplicate gate -> model -> normalise -> event row (without the
page's text if `store_extracted_text` is off) and topic tracker -> hooks -> respond.
Only the model call may take long. Every side effect may fail alone: it is logged and counted,
and the student still gets the analysis. The one exception: a session that ended while the
model ran gets 409 `session_not_active` and no event, as its totals are already final.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from edge.errors import EdgeError, SessionNotActive, SessionNotFound
from edge.frames import records
from edge.frames.dedupe import DuplicateGate
from edge.frames.images import PreparedFrame, prepare, sniff
from edge.frames.normalise import normalise, normalise_confidence
from edge.frames.originals import OriginalStore, image_key
from edge.frames.records import FrameEvent
from edge.frames.workers import frame_executor
from edge.metrics import Metrics
from edge.sessions.service import SessionService
from edge.settings import FrameSettings
from edge.store import Store
from edge.topics.tracker import FrameFlags
from edge.vision.port import (
    ModelAnswer,
    SessionVision,
    VisionAnalyser,
    VisionError,
    VisionNotConfigured,
)
from shared.analysis import FrameAnalysis
from shared.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")
#: The session a frame was for is gone: the frame is refused, not a side effect that failed.
NOT_RUNNING: tuple[type[Exception], ...] = (SessionNotActive, SessionNotFound)
FrameHook = Callable[[FrameEvent], Awaitable[None]]


@dataclass(frozen=True)
class FrameResult:
    """What the phone gets back."""

    session_id: str
    image_key: str
    analysis: FrameAnalysis
    analysis_id: str | None
    uploaded_at: datetime
    reused: bool
    source: str
    model_seconds: float
    confidence: float | None = None


class FramePipeline:
    """Runs each uploaded frame through the steps above."""

    def __init__(
        self,
        *,
        store: Store,
        originals: OriginalStore,
        sessions: SessionService,
        vision: VisionAnalyser | None,
        gate: DuplicateGate,
        clock: Clock,
        limits: FrameSettings,
        metrics: Metrics,
        pause_check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._originals = originals
        self._sessions = sessions
        self._vision = vision
        self._gate = gate
        self._clock = clock
        self._limits = limits
        self._metrics = metrics
        self._pause_check = pause_check
        self._hooks: dict[str, FrameHook] = {}
        self._executor = frame_executor()
        sessions.add_listener(self._on_session)

    def _on_session(self, change: str, session_id: str) -> None:
        """Session listener: what was kept of an ended session's frames is of no more use."""
        if change != "ended":
            return
        self._gate.forget(session_id)
        # `is not None` first: mypy cannot narrow an Optional straight to a protocol's subtype.
        if self._vision is not None and isinstance(self._vision, SessionVision):
            self._vision.end_session(session_id)

    def add_hook(self, name: str, hook: FrameHook) -> None:
        """Call `hook` with every analysed or reused frame (voice context, sync, dashboard)."""
        self._hooks[name] = hook

    async def process(self, data: bytes, session_id: str | None) -> FrameResult:
        """Analyse one frame for a session (the running one, or a new one, when not named)."""
        uploaded_at = self._clock.now()
        started = time.perf_counter()
        # A pause may have begun while the body arrived: nothing is hashed, kept or analysed.
        await self._unless_paused(None)
        try:
            prepared, key = await self._validate(data)
            session_id = await self._session_for(session_id)
        except EdgeError:
            self._metrics.frames.labels("rejected").inc()
            raise
        kept = key if self._limits.keep_originals else None
        # Writing the original overlaps the model call, the one slow step.
        keeping = (
            asyncio.ensure_future(self._in_thread(self._keep_original, key, data))
            if kept is not None
            else None
        )
        try:
            analysis, source, reused, model_seconds, confidence = await self._analyse(
                session_id, prepared, kept, uploaded_at
            )
        finally:
            wrote = await self._effect("original", lambda: keeping) if keeping else False
        await self._unless_paused(key if wrote else None)
        event = FrameEvent(
            event_id=str(uuid.uuid4()),
            session_id=session_id,
            captured_at=uploaded_at,
            image_key=kept,
            outcome="reused" if reused else "analysed",
            source=source,
            analysis=analysis,
            confidence=confidence,
        )
        stored = self._as_stored(event)
        try:
            analysis_id = await self._effect(
                "event", lambda: self._count(stored, analysis), passes=NOT_RUNNING
            )
        except NOT_RUNNING:
            self._metrics.frames.labels("rejected").inc()
            raise
        for name, hook in self._hooks.items():
            await self._effect(f"hook:{name}", functools.partial(hook, event))
        self._metrics.frames.labels(event.outcome).inc()
        self._metrics.frame_seconds.observe(time.perf_counter() - started - model_seconds)
        return FrameResult(
            session_id=session_id,
            image_key=key,
            analysis=analysis,
            analysis_id=analysis_id,
            uploaded_at=uploaded_at,
            reused=reused,
            source=source,
            model_seconds=model_seconds,
            confidence=confidence,
        )

    def _keep_original(self, key: str, data: bytes) -> bool:
        """Save the original; whether this frame wrote it (an identical one may have before)."""
        existed = self._originals.path_for(key).exists()
        self._originals.save(key, data)
        return not existed

    async def _unless_paused(self, written: str | None) -> None:
        """While paused keep nothing of the frame (423 `paused`), not the original it wrote."""
        if self._pause_check is None:
            return
        try:
            await self._pause_check()
        except EdgeError:
            if written is not None:
                path = self._originals.path_for(written)
                await self._in_thread(functools.partial(path.unlink, missing_ok=True))
            self._metrics.frames.labels("rejected").inc()
            raise

    def _as_stored(self, event: FrameEvent) -> FrameEvent:
        """The event as it is kept: without the page's text if the settings say so."""
        if self._limits.store_extracted_text or event.analysis is None:
            return event
        return replace(event, analysis=event.analysis.model_copy(update={"extracted_text": ""}))

    async def _validate(self, data: bytes) -> tuple[PreparedFrame, str]:
        """Check and prepare the frame (nothing is stored for a frame that fails here)."""
        fmt = sniff(data)
        limits = self._limits
        # Hashing 3 MB and decoding it are independent: two threads, two cores.
        hashing = asyncio.ensure_future(self._in_thread(image_key, data, fmt))
        try:
            prepared = await self._in_thread(
                functools.partial(
                    prepare,
                    data,
                    fmt,
                    short_side=limits.model_image_short_side,
                    max_pixels=limits.max_image_pixels,
                    quality=limits.model_image_quality,
                )
            )
        finally:
            key = await hashing
        return prepared, key

    async def _session_for(self, session_id: str | None) -> str:
        if session_id is not None:
            await self._sessions.require_active(session_id)
            return session_id
        return self._sessions.current() or (await self._sessions.start()).session_id

    async def _analyse(
        self, session_id: str, prepared: PreparedFrame, key: str | None, at: datetime
    ) -> tuple[FrameAnalysis, str, bool, float, float | None]:
        """The last analysis if the view is unchanged, else the model's; failures recorded."""
        same = self._gate.match(session_id, prepared.dhash)
        if same is not None:
            self._metrics.model_calls_saved.inc()
            return same.analysis, same.source, True, 0.0, same.confidence
        started = time.perf_counter()
        try:
            if self._vision is None:
                raise VisionNotConfigured(
                    "No vision model is configured: set STUDYLENS_OPENAI_API_KEY (or "
                    "OPENAI_API_KEY) and restart the daemon."
                )
            answer = await self._ask(self._vision, session_id, prepared.jpeg)
            analysis = normalise(
                answer.text, self._limits.topics, self._limits.extracted_text_max_chars
            )
        except VisionError as exc:
            self._metrics.model_calls.labels(exc.code).inc()
            self._metrics.frames.labels("failed").inc()
            await self._record_failure(session_id, key, at, exc.code)
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.model_seconds.observe(elapsed)
        self._metrics.model_calls.labels("ok").inc()
        confidence = normalise_confidence(answer.confidence)
        self._gate.remember(session_id, prepared.dhash, analysis, answer.source, confidence)
        return analysis, answer.source, False, elapsed, confidence

    @staticmethod
    async def _ask(vision: VisionAnalyser, session_id: str, jpeg: bytes) -> ModelAnswer:
        """The analyser's answer; one that keeps a history keeps it per session."""
        if isinstance(vision, SessionVision):
            return await vision.analyse(jpeg, session=session_id)
        return await vision.analyse(jpeg)

    async def _record_failure(
        self, session_id: str, key: str | None, at: datetime, code: str
    ) -> None:
        event = FrameEvent(
            event_id=str(uuid.uuid4()),
            session_id=session_id,
            captured_at=at,
            image_key=key,
            outcome="failed",
            source=None,
            analysis=None,
            error_code=code,
        )
        await self._effect("event", lambda: self._save(event))
        await self._effect("activity", lambda: self._sessions.touch(session_id))

    async def _in_thread(self, work: Callable[..., T], *args: object) -> T:
        """Run CPU work on the frame threads (below the loop's priority)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def close(self) -> None:
        """Stop the frame threads once their work is done."""
        await asyncio.to_thread(self._executor.shutdown)

    async def _save(self, event: FrameEvent) -> str:
        return await self._store.run(lambda db: records.save_event(db, event))

    async def _count(self, event: FrameEvent, analysis: FrameAnalysis) -> str:
        """Store the event and count it in its session in one transaction: they always agree.

        Refusing a frame whose session ended while the model ran (rather than adding it to the
        ended session) keeps the totals that `end` answered final.
        """
        flags = FrameFlags(active=analysis.is_active, distracted=analysis.is_distracted)
        await self._sessions.track(
            event.session_id,
            analysis.topic,
            event.captured_at,
            flags,
            lambda db: records.insert_event(db, event),
        )
        return event.event_id

    async def _effect(
        self,
        name: str,
        work: Callable[[], Awaitable[T]],
        passes: tuple[type[Exception], ...] = (),
    ) -> T | None:
        """Run one side effect; a failure is logged and counted, never raised (but `passes`)."""
        try:
            return await work()
        except passes:
            raise
        except Exception:
            self._metrics.side_effect_failures.labels(name).inc()
            log.exception("frame side effect %r failed; the frame's analysis still stands", name)
            return None
