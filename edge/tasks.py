"""Supervised background tasks: none may die silently.

A task that raises is logged with its traceback, counted, and restarted after a growing delay;
`stop` cancels and awaits every task, so none outlives the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from shared.schemas import WireModel

log = logging.getLogger(__name__)

TaskBody = Callable[[], Coroutine[Any, Any, None]]


class TaskHealth(WireModel):
    """State of one supervised background task."""

    running: bool
    failures: int
    last_error: str | None


@dataclass
class _Supervised:
    task: asyncio.Task[None] | None = None
    failures: int = 0
    last_error: str | None = None
    running: bool = False


class Supervisor:
    """Owns the daemon's background tasks."""

    def __init__(self, first_retry_seconds: float = 1.0, max_retry_seconds: float = 60.0) -> None:
        self._first_retry = first_retry_seconds
        self._max_retry = max_retry_seconds
        self._tasks: dict[str, _Supervised] = {}

    def start(self, name: str, body: TaskBody) -> None:
        """Run `body` in the background under `name`, restarting it whenever it fails."""
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        entry = _Supervised()
        self._tasks[name] = entry
        entry.task = asyncio.create_task(self._guard(name, body, entry), name=f"studylens:{name}")

    async def _guard(self, name: str, body: TaskBody, entry: _Supervised) -> None:
        delay = self._first_retry
        try:
            while True:
                entry.running = True
                try:
                    await body()
                    log.info("background task %s finished", name)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    entry.failures += 1
                    entry.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception(
                        "background task %s failed (%d so far); restarting in %.1f s",
                        name,
                        entry.failures,
                        delay,
                    )
                entry.running = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry)
        finally:
            entry.running = False

    def health(self) -> dict[str, TaskHealth]:
        """State of each task, for `/healthz`."""
        return {
            name: TaskHealth(running=e.running, failures=e.failures, last_error=e.last_error)
            for name, e in self._tasks.items()
        }

    def failures(self, name: str) -> int:
        """How often a task has failed."""
        return self._tasks[name].failures

    async def stop(self) -> None:
        """Cancel every task and wait until each has ended."""
        tasks = [e.task for e in self._tasks.values() if e.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


async def every(seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work` now and then every `seconds`, forever."""
    while True:
        await work()
        await asyncio.sleep(seconds)


async def watch_loop_lag(observe: Callable[[float], None], interval: float = 0.05) -> None:
    """Measure, forever, how late the loop wakes a timer: work that blocked everyone else."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        observe(max(0.0, loop.time() - due))
