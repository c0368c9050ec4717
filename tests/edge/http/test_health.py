"""GET /healthz: liveness, version, running sessions and background tasks."""

from __future__ import annotations

import asyncio
from typing import Any

from edge import __version__
from tests.support import AppClient, FakeClock, StartApp, start_session


async def health_of(client: AppClient) -> Any:
    """Return the `data` of GET /healthz, checking it answered 200."""
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200, body
    assert body["success"] is True, body
    return body["data"]


async def test_health_reports_status_ok(client: AppClient) -> None:
    """A running daemon reports status ok."""
    health = await health_of(client)

    assert health["status"] == "ok"


async def test_health_reports_the_package_version(client: AppClient) -> None:
    """The version is the installed package's version."""
    health = await health_of(client)

    assert health["version"] == __version__


async def test_health_reports_start_time_and_uptime_by_the_clock(
    client: AppClient, clock: FakeClock
) -> None:
    """The start time is when the app was built; the uptime follows the clock."""
    clock.advance(90)

    health = await health_of(client)

    assert health["startedAt"] == "2026-11-25T09:00:00.000Z"
    assert health["uptimeSeconds"] == 90


async def test_health_counts_no_sessions_at_first(client: AppClient) -> None:
    """A fresh daemon has no running session."""
    health = await health_of(client)

    assert health["activeSessions"] == 0


async def test_health_counts_a_running_session(client: AppClient) -> None:
    """A started session is counted as running."""
    await start_session(client)

    health = await health_of(client)

    assert health["activeSessions"] == 1


async def test_health_does_not_count_a_superseded_session(client: AppClient) -> None:
    """Starting a second session ends the first, so one session runs, not two."""
    await start_session(client)
    await start_session(client)

    health = await health_of(client)

    assert health["activeSessions"] == 1


async def test_health_does_not_count_an_ended_session(client: AppClient) -> None:
    """An ended session no longer counts as running."""
    session_id = await start_session(client)
    ended = await client.post(f"/api/session/{session_id}/end")
    assert ended.status == 200

    health = await health_of(client)

    assert health["activeSessions"] == 0


async def test_health_reports_the_background_tasks_running(client: AppClient) -> None:
    """The daemon's background tasks are running and have not failed."""
    health = await health_of(client)

    assert health["tasks"] == {
        "idle-sessions": {"running": True, "failures": 0, "lastError": None},
        "loop-lag": {"running": True, "failures": 0, "lastError": None},
        "revocations": {"running": True, "failures": 0, "lastError": None},
        "pause": {"running": True, "failures": 0, "lastError": None},
        "recordings": {"running": True, "failures": 0, "lastError": None},
        "cards": {"running": True, "failures": 0, "lastError": None},
        "sync": {"running": True, "failures": 0, "lastError": None},
    }


async def test_health_says_whether_capture_is_paused(client: AppClient) -> None:
    """`pause` is in /healthz: not paused, then paused until resumed (null end)."""
    assert (await health_of(client))["pause"]["paused"] is False
    await client.post("/api/privacy/pause", json={"minutes": None})

    pause = (await health_of(client))["pause"]
    assert (pause["paused"], pause["endsAt"]) == (True, None)
    assert pause["since"] is not None


async def test_health_counts_a_session_resumed_after_a_restart(start_app: StartApp) -> None:
    """A session still running when the daemon stopped is running again after a restart."""
    before = await start_app()
    await start_session(before)
    await before.close()

    after = await start_app()
    health = await health_of(after)

    assert health["activeSessions"] == 1


async def test_idle_sessions_task_ends_an_idle_session(
    start_app: StartApp, clock: FakeClock
) -> None:
    """The background task ends a session idle past the limit, so it stops counting."""
    client = await start_app(session_idle_minutes=1, idle_check_seconds=0.02)
    await start_session(client)
    clock.advance(61)

    for _ in range(250):
        health = await health_of(client)
        if health["activeSessions"] == 0:
            break
        await asyncio.sleep(0.02)

    assert health["activeSessions"] == 0
    assert health["tasks"]["idle-sessions"]["failures"] == 0
