"""Card making: a session's uncarded pages through the card maker into the cards table.

Each pass reads the distinct pages not carded yet, asks the maker once, and stores the cards
with the pages marked carded in one transaction; a failed maker leaves the pages uncarded for
the next pass. `CardWorker` runs passes for ended sessions in the background.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import sqlite_utils

from edge.errors import EdgeError, SessionNotFound
from edge.memory import pages, records
from edge.memory.models import MadeCards
from edge.memory.port import CardDraft, CardMaker, CardMakingFailed, Page
from edge.metrics import Metrics
from edge.sessions.records import get_session
from edge.store import Store, transaction
from shared.clock import Clock, to_iso

log = logging.getLogger(__name__)

#: Most pages one pass sends to the maker; the rest wait for the next pass. 60 pages of the
#: longest extracted text (4,000 chars) stay well inside a model's context.
MAX_PAGES = 60
#: After a restart, ended sessions this recent with uncarded pages are carded again: a
#: session that ended just before the daemon stopped, or whose pass failed.
CATCH_UP = timedelta(days=2)


def _pages_to_card(db: sqlite_utils.Database, session_id: str) -> list[Page]:
    if get_session(db, session_id) is None:
        raise SessionNotFound(session_id)
    carded = records.carded_event_ids(db, session_id)
    return pages.uncarded_pages(db, session_id, carded)[:MAX_PAGES]


def recent_uncarded_sessions(db: sqlite_utils.Database, since: datetime) -> list[str]:
    """Ended sessions since `since` with distinct pages no pass has carded, oldest first.

    A frame that repeats a page (or holds too little text) is never carded itself, so the
    query only narrows the sessions down; their pages decide.
    """
    rows = db.execute(
        """SELECT s.id FROM sessions s
           WHERE s.ended_at IS NOT NULL AND s.ended_at >= ?
             AND EXISTS (SELECT 1 FROM learning_events e
                         WHERE e.session_id = s.id AND e.outcome = 'analysed'
                           AND e.is_studying = 1
                           AND e.id NOT IN (SELECT learning_event_id FROM carded_pages))
           ORDER BY s.ended_at""",
        [to_iso(since)],
    )
    return [row["id"] for row in rows if _pages_to_card(db, row["id"])]


class CardMaking:
    """Makes the cards of one session at a time (passes over one session must not overlap)."""

    def __init__(
        self,
        store: Store,
        maker: CardMaker,
        clock: Clock,
        *,
        per_session: int,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._maker = maker
        self._clock = clock
        self._per_session = per_session
        self._metrics = metrics
        self._lock = asyncio.Lock()

    @property
    def maker(self) -> str:
        """What the cards made here say made them."""
        return self._maker.name

    async def make(self, session_id: str) -> MadeCards:
        """Card the session's uncarded pages; `SessionNotFound`, or the maker's failure."""
        async with self._lock:
            to_card = await self._store.run(lambda db: _pages_to_card(db, session_id))
            drafts: list[CardDraft] = []
            if to_card:
                try:
                    drafts = await self._maker.make(to_card, self._per_session)
                except CardMakingFailed as exc:
                    if self._metrics is not None:
                        self._metrics.card_making_failures.labels(exc.code).inc()
                    log.warning(
                        "no cards for session %s from %d page(s): %s (%s)",
                        session_id,
                        len(to_card),
                        exc.message,
                        exc.code,
                    )
                    raise
            now = self._clock.now()

            def store(db: sqlite_utils.Database) -> MadeCards:
                with transaction(db):
                    made = [
                        card_id
                        for draft in drafts
                        if (card_id := records.insert_card(db, session_id, draft, self.maker, now))
                    ]
                    records.mark_carded(
                        db, session_id, (page.event_id for page in to_card), self.maker, now
                    )
                    cards = records.session_cards(db, made)
                return MadeCards(
                    session_id=session_id,
                    maker=self.maker,
                    pages_carded=len(to_card),
                    cards=cards,
                )

            result = await self._store.run(store)
        if self._metrics is not None and result.cards:
            self._metrics.cards_made.labels(self._kind()).inc(len(result.cards))
        if to_card:
            log.info(
                "%d card(s) from %d page(s) of session %s (%s)",
                len(result.cards),
                len(to_card),
                session_id,
                self.maker,
            )
        return result

    def _kind(self) -> str:
        return "on-device" if self.maker == "on-device" else "model"

    async def close(self) -> None:
        """Release the maker's connections."""
        await self._maker.close()


class CardWorker:
    """Makes the cards of each session that ends, in the background, one session at a time."""

    def __init__(self, making: CardMaking, store: Store, clock: Clock) -> None:
        self._making = making
        self._store = store
        self._clock = clock
        self._ended: asyncio.Queue[str] = asyncio.Queue()

    def on_session(self, change: str, session_id: str) -> None:
        """Session listener: queue an ended session (never blocks the caller)."""
        if change == "ended":
            self._ended.put_nowait(session_id)

    async def idle(self) -> None:
        """Wait until every queued session has had its pass (for tests and shutdown)."""
        await self._ended.join()

    async def catch_up(self) -> None:
        """Queue the recently ended sessions that still have uncarded pages."""
        since = self._clock.now() - CATCH_UP
        for session_id in await self._store.run(lambda db: recent_uncarded_sessions(db, since)):
            self._ended.put_nowait(session_id)

    async def run(self) -> None:
        """Forever: catch up on recent sessions, then card each ended session as it comes."""
        await self.catch_up()
        while True:
            session_id = await self._ended.get()
            try:
                await self._making.make(session_id)
            except SessionNotFound:
                log.info("session %s was forgotten before its cards were made", session_id)
            except CardMakingFailed:
                pass  # logged and counted by the pass; its pages wait for the next one
            except EdgeError as exc:
                log.warning("no cards for session %s: %s", session_id, exc.message)
            finally:
                self._ended.task_done()
