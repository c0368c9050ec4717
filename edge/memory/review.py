"""Reviewing: the due queue, grading, the card list, deletion and today's progress.

The functions work on a database connection (the CLI's own); `ReviewService` runs them on the
daemon's store thread for the HTTP routes and the voice tutor alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

import sqlite_utils

from edge.errors import CardNotFound
from edge.memory import records
from edge.memory.models import (
    DEFAULT_DUE_LIMIT,
    DEFAULT_LIST_LIMIT,
    CardDeleted,
    CardList,
    DueCards,
    Graded,
    ReviewProgress,
)
from edge.memory.scheduler import Scheduler, to_millis
from edge.store import Store, transaction
from edge.store.tombstones import drop_unsent_tombstones
from shared.clock import Clock, local_date, start_of_day
from shared.memory import Rating


def progress(db: sqlite_utils.Database, now: datetime, zone: tzinfo) -> ReviewProgress:
    """Grades given today (the student's day) and cards due now."""
    day = local_date(now, zone)
    start, end = start_of_day(day, zone), start_of_day(day + timedelta(days=1), zone)
    return ReviewProgress(
        date=day,
        reviewed_today=records.count_reviews(db, start, end),
        due_now=records.count_due(db, now),
    )


def due(
    db: sqlite_utils.Database, now: datetime, zone: tzinfo, limit: int = DEFAULT_DUE_LIMIT
) -> DueCards:
    """The cards due now, soonest first, at most `limit`."""
    found = records.due_cards(db, now, limit)
    today = progress(db, now, zone)
    return DueCards(due_count=today.due_now, cards=found, progress=today)


def grade(
    db: sqlite_utils.Database,
    scheduler: Scheduler,
    card_id: str,
    rating: Rating,
    now: datetime,
    zone: tzinfo,
    duration_ms: int | None = None,
) -> Graded:
    """Grade one card now: its next due time from FSRS, and one review-log row."""
    at = to_millis(now)
    with transaction(db):
        memory = records.card_memory(db, card_id)
        if memory is None:
            raise CardNotFound(card_id)
        after = scheduler.review(memory, rating, at)
        records.record_review(db, card_id, rating, at, after, duration_ms)
        card = records.get_card(db, card_id)
        today = progress(db, at, zone)
    if card is None:  # cannot be: read back inside the transaction that wrote it
        raise CardNotFound(card_id)
    return Graded(card=card, rating=rating, reviewed_at=at, progress=today)


def cards(
    db: sqlite_utils.Database, topic: str | None = None, limit: int = DEFAULT_LIST_LIMIT
) -> CardList:
    """Cards newest first, of one topic (any case) or of all."""
    found = records.list_cards(db, topic, limit)
    return CardList(topic=topic, total=records.count_cards(db, topic), cards=found)


def delete(db: sqlite_utils.Database, card_id: str, *, linked: bool) -> CardDeleted:
    """Delete a card and its review logs; tombstones for the cloud only if it may hold them."""
    with transaction(db):
        if not records.delete_card(db, card_id):
            raise CardNotFound(card_id)
        if not linked:
            drop_unsent_tombstones(db)
    return CardDeleted(card_id=card_id)


class ReviewService:
    """The review functions on the daemon's store, at the clock's now."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        clock: Clock,
        zone: tzinfo,
        *,
        linked: Callable[[], bool],
    ) -> None:
        self._store = store
        self._linked = linked
        self._scheduler = scheduler
        self._clock = clock
        self._zone = zone

    async def due(self, limit: int = DEFAULT_DUE_LIMIT) -> DueCards:
        """The cards due now, soonest first."""
        now = self._clock.now()
        return await self._store.run(lambda db: due(db, now, self._zone, limit))

    async def grade(self, card_id: str, rating: Rating, duration_ms: int | None = None) -> Graded:
        """Grade one card now; `CardNotFound` for an id that is not a card."""
        now = self._clock.now()
        return await self._store.run(
            lambda db: grade(db, self._scheduler, card_id, rating, now, self._zone, duration_ms)
        )

    async def cards(self, topic: str | None = None, limit: int = DEFAULT_LIST_LIMIT) -> CardList:
        """Cards newest first, of one topic or of all."""
        return await self._store.run(lambda db: cards(db, topic, limit))

    async def delete(self, card_id: str) -> CardDeleted:
        """Delete a card and its review logs."""
        linked = await asyncio.to_thread(self._linked)  # reads the credentials file
        return await self._store.run(lambda db: delete(db, card_id, linked=linked))

    async def progress(self) -> ReviewProgress:
        """Grades given today and cards due now."""
        now = self._clock.now()
        return await self._store.run(lambda db: progress(db, now, self._zone))
