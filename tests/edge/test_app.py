"""The wired daemon as a whole: restart without lost time, idle sessions ending by themselves."""

from __future__ import annotations

import asyncio

from tests.support import ACTIVE, FakeClock, StartApp, services_of


async def test_restart_loses_no_study_time(start_app: StartApp, clock: FakeClock) -> None:
    """Start, track, stop the app, start a new one on the same data dir, end: all time counted."""
    first = await start_app()
    started = await (await first.post("/api/session/start")).json()
    sid = started["data"]["sessionId"]
    sessions = services_of(first).sessions
    await sessions.track(sid, "Biology", clock.now(), ACTIVE)
    clock.advance(120)
    await sessions.track(sid, "Math", clock.now(), ACTIVE)
    clock.advance(60)
    await first.close()

    clock.advance(30)  # the daemon was down for 30 s; the student kept reading
    second = await start_app()
    ended = await (await second.post(f"/api/session/{sid}/end")).json()
    stats = {s["topic"]: s["durationSeconds"] for s in ended["data"]["topicStats"]}
    assert stats == {"Biology": 120, "Math": 90}
    assert ended["data"]["totalAnalyses"] == 2
    clock.advance(600)  # an ended session stops counting
    later = await (await second.get(f"/api/session/{sid}/topic-stats")).json()
    assert later["data"]["totalSeconds"] == 210


async def test_idle_sessions_end_in_the_background(start_app: StartApp, clock: FakeClock) -> None:
    """The supervised idle task ends a session nobody touched for longer than the limit."""
    client = await start_app(idle_check_seconds=0.02, session_idle_minutes=1)
    sid = (await (await client.post("/api/session/start")).json())["data"]["sessionId"]
    clock.advance(61)
    for _ in range(250):  # up to 5 s
        if not services_of(client).sessions.is_active(sid):
            break
        await asyncio.sleep(0.02)
    body = await (await client.get(f"/api/session/{sid}/topic-stats")).json()
    assert (body["data"]["active"], body["data"]["endReason"]) == (False, "idle")
