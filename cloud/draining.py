"""Draining: the first SIGTERM or SIGINT turns `/readyz` to 503 before the server stops.

uvicorn closes its listening socket as soon as it is told to stop, so a load balancer's health
check would only ever see a refused connection. `drain_on_signals` puts a delay in front of
uvicorn's own handler: for `delay` seconds after the first signal the process keeps serving, only
`/readyz` answers 503 `draining`, so the balancer takes it out of rotation while the socket is
still open; then uvicorn's graceful shutdown runs (requests in flight finish within its
`timeout_graceful_shutdown`). A second signal ends the delay at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

logger = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], object]


class Draining:
    """Whether this process is on its way out (set once, never cleared)."""

    def __init__(self) -> None:
        self._active = False

    @property
    def active(self) -> bool:
        """True from the first stop signal on."""
        return self._active

    def start(self) -> bool:
        """Mark the process as draining; True if it was not already (the first signal)."""
        first = not self._active
        self._active = True
        return first


@contextmanager
def drain_on_signals(
    draining: Draining,
    delay: float,
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[None]:
    """While inside: a stop signal drains first, then reaches the handler it replaced.

    Only Python handlers are wrapped (uvicorn's `handle_exit`, installed before the app's
    lifespan starts); the previous ones are back on the way out. Must run on the event loop of
    the main thread.
    """
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Handler] = {}
    for number in signals:
        handler = signal.getsignal(number)
        if callable(handler):
            previous[number] = handler

    passed_on = False  # uvicorn was told: a later timer must not tell it again (2nd = force)

    def pass_on(number: signal.Signals, frame: FrameType | None) -> None:
        nonlocal passed_on
        passed_on = True
        previous[number](number, frame)

    def after_delay(number: signal.Signals) -> None:
        if not passed_on:
            pass_on(number, None)

    def begin(number: signal.Signals) -> None:
        # Off the signal handler, on the loop: logging and timers are not signal-safe.
        logger.warning(
            "%s: draining, /readyz answers 503; the server stops in %.1f s",
            number.name,
            delay,
        )
        loop.call_later(delay, after_delay, number)

    def handle(number: int, frame: FrameType | None) -> None:
        sig = signal.Signals(number)
        if draining.start() and delay > 0:
            loop.call_soon_threadsafe(begin, sig)
        else:
            pass_on(sig, frame)

    for number in previous:
        signal.signal(number, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if signal.getsignal(number) is handle:
                signal.signal(number, handler)
