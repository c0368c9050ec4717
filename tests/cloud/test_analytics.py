"""Analytics across all of a user's edges, derived from the synced facts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.cloud.support import (
    bearer,
    data_of,
    error_of,
    event_item,
    link_device,
    segment_item,
    session_item,
    sign_in,
)
from tests.fakes.google import FakeGoogle
from tests.support import berlin


async def two_edges(cloud: httpx.AsyncClient, google: FakeGoogle) -> dict[str, Any]:
    """Sign in one user with two linked edges; return headers for the user and each edge."""
    user = await sign_in(cloud, google)
    desk = await link_device(cloud, user, "Desk Pi")
    laptop = await link_device(cloud, user, "Laptop")
    return {
        "me": bearer(user["accessToken"]),
        "desk": bearer(desk["accessToken"]),
        "laptop": bearer(laptop["accessToken"]),
    }


async def send(cloud: httpx.AsyncClient, headers: dict[str, str], items: list[Any]) -> None:
    """Sync a batch from an edge and require that no item is rejected."""
    result = data_of(await cloud.post("/api/sync/batch", json={"items": items}, headers=headers))
    assert result["rejected"] == 0, result


async def study(
    cloud: httpx.AsyncClient,
    headers: dict[str, str],
    when: str,
    local_date: str,
    topics: list[tuple[str, float]],
) -> str:
    """Sync a session on `local_date` with a segment and an event per topic; return its id."""
    sid = str(uuid.uuid4())
    start = berlin(when)
    items: list[Any] = [session_item(start, id=sid, local_date=local_date)]
    for topic, seconds in topics:
        items.append(segment_item(sid, topic, start, seconds, local_date=local_date))
        items.append(event_item(sid, topic, start, local_date=local_date))
    await send(cloud, headers, items)
    return sid


async def test_daily_adds_up_every_edge(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A day's totals add up both edges for that date only, longest topic first."""
    edges = await two_edges(cloud, google)
    await study(cloud, edges["desk"], "2026-11-25 09:00", "2026-11-25", [("Biology", 600)])
    await study(
        cloud, edges["laptop"], "2026-11-25 14:00", "2026-11-25", [("Biology", 300), ("Math", 1200)]
    )
    await study(cloud, edges["laptop"], "2026-11-24 14:00", "2026-11-24", [("Math", 999)])
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edges["me"]))
    assert day["date"] == "2026-11-25"
    assert day["totalSeconds"] == 2100
    assert day["totalAnalyses"] == 3
    assert [(s["topic"], s["durationSeconds"]) for s in day["topicStats"]] == [
        ("Math", 1200),
        ("Biology", 900),
    ]


async def test_daily_defaults_to_today_in_the_given_zone(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Without a date, daily covers today in the `tz` zone; an empty day is all zeros."""
    edges = await two_edges(cloud, google)
    day = data_of(await cloud.get("/api/topic/daily?tz=Pacific/Kiritimati", headers=edges["me"]))
    assert day["date"] == "2026-11-25"  # 09:00 UTC is 23:00 the same day at UTC+14
    day = data_of(await cloud.get("/api/topic/daily", headers=edges["me"]))
    assert day == {"date": "2026-11-25", "totalSeconds": 0, "totalAnalyses": 0, "topicStats": []}


async def test_weekly_covers_seven_days_oldest_first(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Weekly covers the seven days up to the date, oldest first, and nothing before."""
    edges = await two_edges(cloud, google)
    await study(cloud, edges["desk"], "2026-11-19 09:00", "2026-11-19", [("Chemistry", 60)])
    await study(cloud, edges["desk"], "2026-11-18 09:00", "2026-11-18", [("Chemistry", 5000)])
    await study(cloud, edges["laptop"], "2026-11-25 09:00", "2026-11-25", [("English", 120)])
    week = data_of(await cloud.get("/api/topic/weekly?date=2026-11-25", headers=edges["me"]))
    assert week["fromDate"] == "2026-11-19"
    assert week["toDate"] == "2026-11-25"
    assert [d["date"] for d in week["days"]][:2] == ["2026-11-19", "2026-11-20"]
    assert len(week["days"]) == 7
    assert week["totalSeconds"] == 180
    assert {s["topic"]: s["durationSeconds"] for s in week["topicStats"]} == {
        "English": 120,
        "Chemistry": 60,
    }


async def test_sessions_in_a_range_with_totals(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Sessions in the date range are listed newest first with their seconds and analyses."""
    edges = await two_edges(cloud, google)
    early = await study(cloud, edges["desk"], "2026-11-20 09:00", "2026-11-20", [("Math", 60)])
    late = await study(
        cloud, edges["laptop"], "2026-11-25 09:00", "2026-11-25", [("Math", 30), ("Art", 30)]
    )
    await study(cloud, edges["laptop"], "2026-11-10 09:00", "2026-11-10", [("Math", 30)])
    listed = data_of(
        await cloud.get("/api/sessions?from=2026-11-19&to=2026-11-25", headers=edges["me"])
    )
    assert [
        (s["sessionId"], s["totalSeconds"], s["totalAnalyses"]) for s in listed["sessions"]
    ] == [
        (late, 60, 2),
        (early, 60, 1),
    ]


async def test_users_see_only_their_own_figures(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Another user's daily totals and session list leave out this user's study."""
    edges = await two_edges(cloud, google)
    await study(cloud, edges["desk"], "2026-11-25 09:00", "2026-11-25", [("Biology", 600)])
    other = await sign_in(cloud, google, "sub-other", "other@example.com")
    headers = bearer(other["accessToken"])
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=headers))
    assert day["totalSeconds"] == 0
    assert data_of(await cloud.get("/api/sessions", headers=headers))["sessions"] == []


async def test_bad_analytics_parameters_are_400s(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Impossible dates, unknown zones, and reversed or too long ranges are 400s."""
    edges = await two_edges(cloud, google)
    for url in (
        "/api/topic/daily?date=2026-02-30",
        "/api/topic/daily?date=yesterday",
        "/api/topic/weekly?tz=Mars/Olympus",
        "/api/topic/daily?tz=Europe",
        "/api/sessions?from=2026-11-25&to=2026-11-01",
        "/api/sessions?from=2020-01-01&to=2026-11-25",
    ):
        error = error_of(await cloud.get(url, headers=edges["me"]), 400)
        assert error["code"] == "invalid_request", url


async def test_analytics_need_a_token(cloud: httpx.AsyncClient) -> None:
    """Analytics without a token is a 401."""
    error_of(await cloud.get("/api/topic/daily"), 401)
