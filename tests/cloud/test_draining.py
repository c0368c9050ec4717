"""The drain state and the signal handlers in front of uvicorn's, in this process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from cloud.draining import Draining, drain_on_signals


class Stopper:
    """Stands in for uvicorn's `handle_exit`: records each signal passed on to it."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.called = asyncio.Event()

    def __call__(self, number: int, _frame: FrameType | None) -> None:
        """Record the signal."""
        self.calls.append(number)
        self.called.set()


@pytest.fixture
def stopper() -> Iterator[Stopper]:
    """A Python handler for SIGTERM and SIGINT, the previous ones back afterwards."""
    fake = Stopper()
    before = {number: signal.signal(number, fake) for number in (signal.SIGTERM, signal.SIGINT)}
    yield fake
    for number, handler in before.items():
        signal.signal(number, handler)


async def all_timers_due_within(seconds: float) -> None:
    """Return once the loop has run every callback due within `seconds` from now.

    Timers run in the order they are due: one set later than another has run after it.
    """
    done = asyncio.Event()
    await asyncio.sleep(0)  # let callbacks already posted from a signal handler arm their timers
    asyncio.get_running_loop().call_later(seconds, done.set)
    await done.wait()


def test_draining_is_set_once() -> None:
    """Draining starts off; `start` reports the first call only, and it never clears."""
    draining = Draining()
    assert not draining.active
    assert draining.start() is True
    assert draining.start() is False
    assert draining.active


async def test_first_signal_drains_then_reaches_the_server_after_the_delay(
    stopper: Stopper,
) -> None:
    """SIGTERM marks the process draining at once; the server hears of it after the delay."""
    draining = Draining()
    with drain_on_signals(draining, delay=0.05):
        signal.raise_signal(signal.SIGTERM)
        assert draining.active
        assert stopper.calls == []  # the loop has not run yet: nothing could have passed it on
        await asyncio.wait_for(stopper.called.wait(), 5)
    assert stopper.calls == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is stopper


async def test_second_signal_ends_the_delay_and_the_timer_stays_quiet(stopper: Stopper) -> None:
    """A second SIGINT reaches the server at once, the timer adds nothing, a third goes on too.

    uvicorn takes a second SIGINT as "force quit": the timer passing the first one on late
    would cut the requests in flight.
    """
    draining = Draining()
    with drain_on_signals(draining, delay=0.05):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        assert stopper.calls == [signal.SIGINT]
        await all_timers_due_within(0.1)
        assert stopper.calls == [signal.SIGINT]
        signal.raise_signal(signal.SIGINT)
        assert stopper.calls == [signal.SIGINT, signal.SIGINT]


async def test_without_delay_the_signal_goes_straight_on(stopper: Stopper) -> None:
    """With no drain delay the server hears the signal at once; /readyz still fails."""
    draining = Draining()
    with drain_on_signals(draining, delay=0):
        signal.raise_signal(signal.SIGTERM)
        assert stopper.calls == [signal.SIGTERM]
    assert draining.active


async def test_default_dispositions_are_left_alone() -> None:
    """Only Python handlers are wrapped: a default disposition (no server) stays as it was."""
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with drain_on_signals(Draining(), delay=1):
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)
