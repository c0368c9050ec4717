"""Card making: pages to cards once, no question twice, failures counted, the background worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest

from edge.errors import SessionNotFound
from edge.memory.cloze import ClozeMaker
from edge.memory.making import CardMaking, CardWorker, recent_uncarded_sessions
from edge.memory.port import CardDraft, CardModelBadOutput, Page
from edge.metrics import Metrics
from edge.store import Store
from tests.edge.memory.conftest import ACIDS, MITOSIS, PHOTOSYNTHESIS, PageSpec, add_session
from tests.support import FakeClock


class CountingMaker:
    """The on-device maker, counting its calls and the pages it was given; can be made to fail."""

    name = "on-device"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.fail = False
        self._inner = ClozeMaker()

    async def make(self, pages: Sequence[Page], limit: int) -> list[CardDraft]:
        """Clozes, or CardModelBadOutput while `fail` is set."""
        self.calls.append([page.event_id for page in pages])
        if self.fail:
            raise CardModelBadOutput("scripted failure")
        return await self._inner.make(pages, limit)

    async def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def maker() -> CountingMaker:
    """A maker whose calls the test can see."""
    return CountingMaker()


@pytest.fixture
def metrics() -> Metrics:
    """A registry of the test's own."""
    return Metrics()


@pytest.fixture
def making(store: Store, maker: CountingMaker, clock: FakeClock, metrics: Metrics) -> CardMaking:
    """Card making on the test's store, eight cards a session."""
    return CardMaking(store, maker, clock, per_session=8, metrics=metrics)


async def session_of(store: Store, pages: list[PageSpec | str]) -> tuple[str, list[str]]:
    """An ended session of these pages."""
    return await store.run(lambda db: add_session(db, pages))


async def count(store: Store, table: str) -> int:
    """Rows in a table."""
    return await store.run(lambda db: db.table(table).count)


async def test_a_session_becomes_cards_tied_to_its_pages(making: CardMaking, store: Store) -> None:
    """Cards come back with their session, page and topic; every page is marked carded."""
    session_id, events = await session_of(store, [MITOSIS, PHOTOSYNTHESIS])

    made = await making.make(session_id)

    assert made.cards
    assert {card.analysis_id for card in made.cards} == set(events)
    assert {(card.session_id, card.topic) for card in made.cards} == {(session_id, "Biology")}
    assert (made.pages_carded, await count(store, "carded_pages")) == (2, 2)


async def test_making_again_cards_nothing_and_asks_no_maker(
    making: CardMaking, store: Store, maker: CountingMaker
) -> None:
    """A second pass over a carded session is a no-op: no call, no card, same count."""
    session_id, _ = await session_of(store, [MITOSIS, PHOTOSYNTHESIS])
    first = await making.make(session_id)

    again = await making.make(session_id)

    assert (len(maker.calls), again.cards, again.pages_carded) == (1, [], 0)
    assert await count(store, "cards") == len(first.cards)


async def test_a_page_read_in_another_session_makes_no_second_card(
    making: CardMaking, store: Store
) -> None:
    """The same page studied twice: the second session's clozes are the first's questions."""
    first, _ = await session_of(store, [MITOSIS])
    second, _ = await session_of(store, [MITOSIS])
    made = await making.make(first)

    again = await making.make(second)

    assert made.cards
    assert again.cards == []
    assert await count(store, "cards") == len(made.cards)


async def test_a_failed_maker_stores_nothing_counts_and_leaves_the_pages(
    making: CardMaking, store: Store, maker: CountingMaker, metrics: Metrics
) -> None:
    """No cards, no page marked, the failure counted by code; the next pass tries again."""
    session_id, _ = await session_of(store, [MITOSIS])
    maker.fail = True

    with pytest.raises(CardModelBadOutput):
        await making.make(session_id)

    assert (await count(store, "cards"), await count(store, "carded_pages")) == (0, 0)
    failures = metrics.registry.get_sample_value(
        "studylens_card_making_failures_total", {"code": "card_model_bad_output"}
    )
    assert failures == 1
    maker.fail = False
    assert (await making.make(session_id)).pages_carded == 1


async def test_an_unknown_session_is_session_not_found(making: CardMaking) -> None:
    """No session, no pass."""
    with pytest.raises(SessionNotFound):
        await making.make("no-such-session")


async def test_the_cards_per_session_cap_holds(
    store: Store, maker: CountingMaker, clock: FakeClock
) -> None:
    """Three pages with room for two cards: two cards, and all three pages carded."""
    session_id, _ = await session_of(
        store, [MITOSIS, PHOTOSYNTHESIS, PageSpec(ACIDS, topic="Chemistry")]
    )

    made = await CardMaking(store, maker, clock, per_session=2).make(session_id)

    assert (len(made.cards), made.pages_carded) == (2, 3)


@pytest.fixture
async def worker(making: CardMaking, store: Store, clock: FakeClock) -> AsyncIterator[CardWorker]:
    """The background worker, running."""
    cards = CardWorker(making, store, clock)
    task = asyncio.create_task(cards.run())
    yield cards
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_ended_session_is_carded_in_the_background(
    worker: CardWorker, store: Store
) -> None:
    """The session listener's `ended` queues a pass; the cards appear without a request."""
    session_id, _ = await session_of(store, [MITOSIS])

    worker.on_session("ended", session_id)
    async with asyncio.timeout(5):
        await worker.idle()

    assert await count(store, "cards") > 0


async def test_a_started_session_is_not_carded(
    worker: CardWorker, store: Store, maker: CountingMaker
) -> None:
    """Only ends queue a pass."""
    session_id, _ = await session_of(store, [MITOSIS])

    worker.on_session("started", session_id)
    async with asyncio.timeout(5):
        await worker.idle()

    assert maker.calls == []


async def test_the_worker_outlives_a_failed_pass_and_a_forgotten_session(
    worker: CardWorker, store: Store, maker: CountingMaker
) -> None:
    """A maker failure and a session gone before its pass leave the worker carding the next."""
    failing, _ = await session_of(store, [MITOSIS])
    fine, _ = await session_of(store, [PHOTOSYNTHESIS])
    maker.fail = True
    worker.on_session("ended", failing)
    async with asyncio.timeout(5):
        await worker.idle()
    maker.fail = False

    worker.on_session("ended", "forgotten-session")
    worker.on_session("ended", fine)
    async with asyncio.timeout(5):
        await worker.idle()

    assert await count(store, "cards") > 0


async def test_after_a_restart_recent_uncarded_sessions_are_carded(
    making: CardMaking, store: Store, clock: FakeClock
) -> None:
    """A session that ended before its pass ran is queued again when a worker starts."""
    await session_of(store, [MITOSIS])
    cards = CardWorker(making, store, clock)
    await cards.catch_up()

    task = asyncio.create_task(cards.run())
    try:
        async with asyncio.timeout(5):
            await cards.idle()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert await count(store, "carded_pages") == 1


async def test_a_carded_session_with_repeated_pages_is_not_queued_again(
    making: CardMaking, store: Store, clock: FakeClock
) -> None:
    """A frame repeating a page is never carded itself; its session is done all the same."""
    session_id, _ = await session_of(store, [MITOSIS, MITOSIS, PHOTOSYNTHESIS])
    await making.make(session_id)
    since = clock.now() - timedelta(days=2)

    queued = await store.run(lambda db: recent_uncarded_sessions(db, since))

    assert queued == []
    assert await count(store, "carded_pages") == 2


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """What card making logged at `level`."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "edge.memory.making" and record.levelno == level
    ]


async def test_the_cards_made_are_counted_as_on_device(
    making: CardMaking, store: Store, metrics: Metrics
) -> None:
    """The lexicon's cards count under the `on-device` maker."""
    session_id, _ = await session_of(store, [MITOSIS, PHOTOSYNTHESIS])

    made = await making.make(session_id)

    counted = metrics.registry.get_sample_value(
        "studylens_cards_made_total", {"maker": "on-device"}
    )
    assert made.cards
    assert counted == len(made.cards)


async def test_a_models_cards_are_counted_as_model(
    store: Store, maker: CountingMaker, clock: FakeClock, metrics: Metrics
) -> None:
    """Whatever the model is called, its cards count under `model`."""
    maker.name = "gpt-4.1-mini"
    session_id, _ = await session_of(store, [MITOSIS, PHOTOSYNTHESIS])

    made = await CardMaking(store, maker, clock, per_session=8, metrics=metrics).make(session_id)

    counted = metrics.registry.get_sample_value("studylens_cards_made_total", {"maker": "model"})
    assert made.cards
    assert counted == len(made.cards)


async def test_a_pass_logs_its_cards_pages_session_and_maker(
    making: CardMaking, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator's line for each pass says what it made, from what, for whom, by whom."""
    caplog.set_level(logging.INFO, logger="edge.memory.making")
    session_id, _ = await session_of(store, [MITOSIS, PHOTOSYNTHESIS])

    made = await making.make(session_id)

    line = f"{len(made.cards)} card(s) from 2 page(s) of session {session_id} (on-device)"
    assert [message for message in messages(caplog, logging.INFO) if line in message]


async def test_a_failed_pass_is_logged_with_its_session_reason_and_code(
    making: CardMaking, store: Store, maker: CountingMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the session, the maker's reason and the error code."""
    session_id, _ = await session_of(store, [MITOSIS])
    maker.fail = True

    with pytest.raises(CardModelBadOutput):
        await making.make(session_id)

    [warning] = messages(caplog, logging.WARNING)
    assert session_id in warning
    assert "scripted failure" in warning
    assert "card_model_bad_output" in warning


async def test_the_worker_logs_a_session_forgotten_before_its_pass(
    worker: CardWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """A session deleted while queued is an info line naming it, no error."""
    caplog.set_level(logging.INFO, logger="edge.memory.making")

    worker.on_session("ended", "deleted-session")
    async with asyncio.timeout(5):
        await worker.idle()

    infos = messages(caplog, logging.INFO)
    assert [info for info in infos if "deleted-session" in info and "forgotten" in info]


async def test_the_worker_logs_a_pass_the_store_failed(
    worker: CardWorker, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A store failure in a background pass is a warning with the session and the reason."""
    # Before the session exists: the worker's catch-up may queue it as well as the listener.
    await store.run(
        lambda db: db.execute(
            """CREATE TRIGGER no_carding BEFORE INSERT ON carded_pages
               BEGIN SELECT RAISE(ABORT, 'carded pages unwritable'); END"""
        )
    )
    session_id, _ = await session_of(store, [MITOSIS])

    worker.on_session("ended", session_id)
    async with asyncio.timeout(5):
        await worker.idle()

    warnings = messages(caplog, logging.WARNING)
    assert [w for w in warnings if session_id in w and "carded pages unwritable" in w]
