"""Supervised background tasks: failures are logged, counted and restarted."""

from __future__ import annotations

import asyncio

import pytest

from edge.tasks import Supervisor, every
from tests.support import LogLine


async def test_failing_task_is_restarted_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """A task that raises runs again, and each failure is counted and logged."""
    supervisor = Supervisor(first_retry_seconds=0.01)
    runs = 0
    done = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"failure {runs}")
        done.set()

    supervisor.start("flaky", flaky)
    await asyncio.wait_for(done.wait(), timeout=5)
    await supervisor.stop()
    assert runs == 3
    assert "background task flaky failed" in caplog.text


async def test_health_reports_failures_and_last_error() -> None:
    """Health shows how often a task failed and why."""
    supervisor = Supervisor(first_retry_seconds=10)

    async def broken() -> None:
        raise ValueError("disk on fire")

    with LogLine("edge.tasks", "background task broken failed") as logged:
        supervisor.start("broken", broken)
        await asyncio.wait_for(logged.seen.wait(), timeout=5)  # logged after it is counted
    health = supervisor.health()["broken"]
    await supervisor.stop()
    assert (health.failures, health.last_error, health.running) == (
        1,
        "ValueError: disk on fire",
        False,
    )


async def test_stop_cancels_and_awaits_every_task() -> None:
    """After stop, no supervised task is left running."""
    supervisor = Supervisor()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    supervisor.start("forever", forever)
    await asyncio.wait_for(started.wait(), timeout=5)
    await supervisor.stop()
    assert cancelled.is_set()
    assert supervisor.health() == {}


async def test_duplicate_task_names_are_refused() -> None:
    """Two tasks under one name would hide each other's health."""
    supervisor = Supervisor()

    async def idle() -> None:
        await asyncio.sleep(3600)

    supervisor.start("one", idle)
    try:
        with pytest.raises(ValueError, match="already supervised"):
            supervisor.start("one", idle)
    finally:
        await supervisor.stop()


async def test_every_repeats_its_work() -> None:
    """`every` runs the work again after each interval."""
    calls = 0
    third = asyncio.Event()

    async def work() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()

    task = asyncio.create_task(every(0.01, work))
    await asyncio.wait_for(third.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls >= 3
