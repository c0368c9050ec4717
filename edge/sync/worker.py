"""The sync worker: delivers the outbox and the originals to the cloud, whatever fails.

A fact leaves the outbox only when the cloud acknowledged its revision; everything else is
tried again with exponential backoff and jitter. It runs as a supervised task, reads and writes
SQLite through the store thread and files off the loop, so the frame and voice paths never wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import httpx

from edge.frames.originals import CONTENT_TYPES, OriginalStore
from edge.metrics import Metrics
from edge.settings import SyncSettings
from edge.store import Store
from edge.sync import outbox
from edge.sync.client import CloudClient
from edge.sync.credentials import CredentialStore
from edge.sync.errors import (
    CloudBatchTooLarge,
    CloudRefused,
    CloudUnavailable,
    CloudUnlinked,
    SyncError,
)
from shared.clock import Clock, to_iso
from shared.sync import ImageRef, PresignedUpload

log = logging.getLogger(__name__)

#: How often an unlinked worker refreshes its backlog gauges.
UNLINKED_COUNT_SECONDS = 60.0
#: Originals asked about per presign request.
IMAGES_PER_PASS = 20


def backoff_seconds(failures: int, *, base: float, cap: float, rand: float) -> float:
    """Delay after `failures` failures in a row: exponential, capped, "equal jitter".

    Half the delay is fixed and half random, so retries never bunch up at zero and many edges
    that failed together spread out (AWS Architecture Blog, "Exponential Backoff and Jitter").
    """
    ceiling = min(cap, base * 2.0 ** max(0, failures - 1))
    return ceiling / 2 + rand * ceiling / 2


#: The status prefix of a failure because the cloud refused this device's credentials.
UNLINKED = "unlinked"


def _reason(exc: SyncError) -> str:
    """The metric label and status prefix of a failure."""
    for kind, reason in (
        (CloudUnavailable, "unavailable"),
        (CloudUnlinked, UNLINKED),
        (CloudRefused, "refused"),
    ):
        if isinstance(exc, kind):
            return reason
    return "error"


#: The first retry waits up to this long; each further failure doubles it (to the cap).
BACKOFF_BASE_SECONDS = 2.0


@dataclass
class PassResult:
    """What one pass did."""

    facts: int = 0
    images: int = 0
    more: bool = False
    rejected: list[str] = field(default_factory=list)


class Pacer:
    """Spreads uploads so they average at most `rate` bytes per second (None: no limit)."""

    def __init__(
        self,
        rate: int | None,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = rate
        self._now = now
        self._sleep = sleep
        self._next = 0.0

    async def take(self, size: int) -> None:
        """Wait for this upload's turn: each starts when the bytes before it have "drained"."""
        if not self._rate:
            return
        now = self._now()
        start = max(now, self._next)
        self._next = start + size / self._rate
        if start > now:
            await self._sleep(start - now)


class SyncWorker:
    """Delivers facts and originals; `run` is the supervised loop, `sync_pass` one round."""

    def __init__(
        self,
        store: Store,
        originals: OriginalStore,
        credentials: CredentialStore,
        http: httpx.AsyncClient,
        clock: Clock,
        settings: SyncSettings,
        metrics: Metrics | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._originals = originals
        self._credentials = credentials
        self._client = CloudClient(http, credentials, clock)
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._rand = rand
        self._wake = asyncio.Event()
        self._batch_size = settings.batch_size
        self._pacer = Pacer(settings.upload_bytes_per_second)
        self.failures = 0
        self._unlinked_counted_at = -UNLINKED_COUNT_SECONDS

    def wake(self) -> None:
        """New facts were written: look soon (never cuts a backoff short)."""
        self._wake.set()

    async def run(self) -> None:
        """Sync until cancelled."""
        while True:
            delay = await self.step()
            if delay is None:
                continue
            if self.failures:
                await asyncio.sleep(delay)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def step(self) -> float | None:
        """One pass and its bookkeeping; the delay before the next (None: go on at once)."""
        try:
            linked = await self._credentials.read()
        except CloudUnlinked as exc:  # the link file is damaged
            return await self._failed(exc)
        if linked is None:
            # Local-only, the outbox only grows; counting it on every frame's wake-up would
            # scan it on the store thread the frames use. Once a minute is enough for a gauge.
            if time.monotonic() - self._unlinked_counted_at >= UNLINKED_COUNT_SECONDS:
                self._unlinked_counted_at = time.monotonic()
                await self._record_backlog()
            return self._settings.idle_seconds  # local-only: the outbox simply waits
        try:
            result = await self.sync_pass()
        except SyncError as exc:
            return await self._failed(exc)
        except (OSError, httpx.HTTPError) as exc:
            return await self._failed(CloudUnavailable(repr(exc)))
        self.failures = 0
        now = to_iso(self._clock.now())
        await self._store.run(
            lambda db: outbox.set_state(db, last_success_at=now, next_retry_at=None, failures="0")
        )
        await self._record_backlog()
        return None if result.more else self._settings.idle_seconds

    async def _failed(self, exc: SyncError) -> float:
        self.failures += 1
        reason = _reason(exc)
        delay = backoff_seconds(
            self.failures,
            base=BACKOFF_BASE_SECONDS,
            cap=self._settings.backoff_cap_seconds,
            rand=self._rand(),
        )
        log.warning("sync failed (%s), retry in %.0f s: %s", reason, delay, exc)
        if self._metrics is not None:
            self._metrics.sync_failures.labels(reason).inc()
        now = self._clock.now()
        values = {
            "last_error": f"{reason}: {exc}"[:500],
            "last_error_at": to_iso(now),
            "next_retry_at": to_iso(now + timedelta(seconds=delay)),
            "failures": str(self.failures),
        }
        await self._store.run(lambda db: outbox.set_state(db, **values))
        await self._record_backlog()
        return delay

    async def _record_backlog(self) -> None:
        if self._metrics is None:
            return
        backlog = await self._store.run(outbox.backlog)
        self._metrics.sync_pending.labels("facts").set(backlog.facts)
        self._metrics.sync_pending.labels("images").set(backlog.images)
        self._metrics.sync_pending.labels("rejected").set(backlog.rejected)

    async def on_frame(self, event: object) -> None:
        """Frame-pipeline hook: a new event is in the outbox."""
        self.wake()

    async def sync_pass(self) -> PassResult:
        """Upload waiting originals, then send one batch of facts, then prune."""
        result = PassResult()
        result.images = await self._images()
        await self._facts(result)
        if self._settings.retention_days is not None:
            await self.prune(self._settings.retention_days)
        return result

    # --- facts ------------------------------------------------------------------------------

    async def _facts(self, result: PassResult) -> None:
        size = self._batch_size
        facts = await self._store.run(lambda db: outbox.pending_facts(db, size))
        if not facts:
            return
        try:
            answer = await self._client.send_batch([f.item for f in facts])
        except CloudBatchTooLarge:
            self._batch_size = max(1, size // 2)
            log.info("the cloud refused %d items at once; sending %d", size, self._batch_size)
            result.more = True
            return
        if len(answer.results) != len(facts):
            raise CloudUnavailable("the cloud answered for a different number of items")
        delivered = []
        for fact, item in zip(facts, answer.results, strict=True):
            if item.status == "rejected":
                code = item.error.code if item.error else "rejected"
                await self._store.run(partial(outbox.mark_rejected, fact=fact, code=code))
                log.error("the cloud refused %s %s: %s", fact.kind, fact.fact_id, item.error)
                result.rejected.append(fact.fact_id)
            else:
                delivered.append(fact)
            if self._metrics is not None:
                self._metrics.sync_facts.labels(item.status).inc()
        await self._store.run(lambda db: outbox.mark_delivered(db, delivered))
        result.facts = len(delivered)
        result.more = len(facts) == size

    # --- originals --------------------------------------------------------------------------

    async def _images(self) -> int:
        keys = await self._store.run(lambda db: outbox.images_to_upload(db, IMAGES_PER_PASS))
        if not keys:
            return 0
        refs: dict[str, tuple[str, ImageRef]] = {}
        missing = []
        for key in keys:
            ref = await asyncio.to_thread(self._describe, key)
            if ref is None:
                missing.append(key)
            else:
                refs[ref.sha256] = (key, ref)
        await self._mark(missing, "missing_at", "missing")
        if not refs:
            return 0
        answer = await self._client.presign([ref for _, ref in refs.values()])
        semaphore = asyncio.Semaphore(self._settings.upload_concurrency)

        async def one(target: PresignedUpload) -> str | None:
            key, ref = refs[target.sha256]
            async with semaphore:
                data = await asyncio.to_thread(self._read, key)
                if data is None or hashlib.sha256(data).hexdigest() != ref.sha256:
                    return key  # vanished or damaged since described: cannot be sent
                await self._pacer.take(len(data))
                await self._client.upload(target, data)
                return None

        damaged = await asyncio.gather(*(one(t) for t in answer.uploads))
        await self._mark([k for k in damaged if k is not None], "missing_at", "missing")
        confirmed = list(answer.stored)
        if answer.uploads:
            again = await self._client.presign([ref for _, ref in refs.values()])
            confirmed = list(again.stored)
        uploaded = [refs[sha][0] for sha in confirmed if sha in refs]
        await self._mark(uploaded, "uploaded_at", "uploaded")
        return len(uploaded)

    def _describe(self, key: str) -> ImageRef | None:
        try:
            path = self._originals.path_for(key)
            size = path.stat().st_size
        except (OSError, LookupError):
            return None
        return ImageRef(
            sha256=key.split(".")[0],
            content_type=CONTENT_TYPES[key.rsplit(".", 1)[1]],
            size=size,
        )

    def _read(self, key: str) -> bytes | None:
        try:
            return self._originals.path_for(key).read_bytes()
        except (OSError, LookupError):
            return None

    async def _mark(self, keys: list[str], column: str, result: str) -> None:
        if not keys:
            return
        at = to_iso(self._clock.now())
        await self._store.run(lambda db: outbox.mark_images(db, keys, column, at))
        if self._metrics is not None:
            self._metrics.sync_images.labels(result).inc(len(keys))
        if result == "missing":
            log.warning("originals missing locally, their events go without: %s", keys)

    # --- retention --------------------------------------------------------------------------

    async def prune(self, days: int) -> int:
        """Delete originals older than `days` that the cloud has confirmed; never others."""
        cutoff = to_iso(self._clock.now() - timedelta(days=days))
        keys = await self._store.run(lambda db: outbox.prunable(db, cutoff))
        removed = []
        for key in keys:
            try:
                await asyncio.to_thread(self._originals.path_for(key).unlink, missing_ok=True)
            except (OSError, LookupError) as exc:
                log.warning("could not delete original %s: %s", key, exc)
                continue
            removed.append(key)
        if removed:
            at = to_iso(self._clock.now())
            await self._store.run(lambda db: outbox.mark_pruned(db, removed, at))
        return len(removed)
