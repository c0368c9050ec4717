"""The session lifecycle over HTTP: start, supersede, end, per-session topic stats, body parsing."""

from __future__ import annotations

import pytest

from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    berlin,
    data_of,
    durations,
    error_of,
    start_session,
    track,
)


async def test_start_returns_201_with_the_session_envelope(client: AppClient) -> None:
    """POST /api/session/start answers 201 with the new session in the success envelope."""
    response = await client.post("/api/session/start")

    body = await response.json()
    assert response.status == 201, body
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"sessionId", "status", "startedAt", "date", "supersededSessionIds"}
    assert data["sessionId"]
    assert data["startedAt"] == "2026-11-25T09:00:00.000Z"  # 10:00 in Berlin (CET, UTC+1)
    assert data["date"] == "2026-11-25"
    assert data["supersededSessionIds"] == []


async def test_start_answers_status_active_for_the_ios_client(client: AppClient) -> None:
    """The earlier backend's iOS client reads `status` of a started session: "active"."""
    data = await data_of(await client.post("/api/session/start"), 201)

    assert data["status"] == "active"


async def test_end_answers_status_ended(client: AppClient) -> None:
    """An ended session's answer says `status: "ended"`, as the start says "active"."""
    session_id = await start_session(client)

    data = await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    assert data["status"] == "ended"


async def test_start_dates_the_session_by_local_time(start_app: StartApp, clock: FakeClock) -> None:
    """Just after local midnight the session's date is the local day, not the UTC one."""
    clock.current = berlin("2026-11-25 00:30")
    client = await start_app()

    data = await data_of(await client.post("/api/session/start"), 201)

    assert data["startedAt"] == "2026-11-24T23:30:00.000Z"
    assert data["date"] == "2026-11-25"


async def test_start_gives_each_session_a_new_id(client: AppClient) -> None:
    """Two starts give two different session ids."""
    first = await start_session(client)
    second = await start_session(client)

    assert first != second


async def test_second_start_names_the_superseded_session(client: AppClient) -> None:
    """Starting while a session runs reports the running one as superseded."""
    first = await start_session(client)

    data = await data_of(await client.post("/api/session/start"), 201)

    assert data["supersededSessionIds"] == [first]


async def test_superseded_session_is_ended_with_reason_superseded(
    client: AppClient, clock: FakeClock
) -> None:
    """The superseded session's topic stats show it ended as superseded, at its last activity."""
    first = await start_session(client)
    await track(client, clock, first, "Biology")
    last_activity = "2026-11-25T09:00:00.000Z"
    clock.advance(300)
    await start_session(client)

    stats = await data_of(await client.get(f"/api/session/{first}/topic-stats"), 200)

    assert stats["active"] is False
    assert stats["endReason"] == "superseded"
    assert stats["endedAt"] == last_activity


async def test_ending_a_superseded_session_is_a_conflict(client: AppClient) -> None:
    """A superseded session can no longer be ended: 409 session_not_active."""
    first = await start_session(client)
    await start_session(client)

    error = await error_of(await client.post(f"/api/session/{first}/end"), 409)

    assert error["code"] == "session_not_active"


async def test_end_returns_totals_and_per_topic_seconds(
    client: AppClient, clock: FakeClock
) -> None:
    """Ending returns id, end time, duration, frame count and seconds per topic."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(60)
    await track(client, clock, session_id, "Math")
    clock.advance(30)

    data = await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    assert data["sessionId"] == session_id
    assert data["endedAt"] == "2026-11-25T09:01:30.000Z"
    assert data["durationSeconds"] == 90
    assert data["totalAnalyses"] == 2
    assert durations(data) == [("Biology", 60), ("Math", 30)]


async def test_end_sorts_topic_stats_by_time_most_first(
    client: AppClient, clock: FakeClock
) -> None:
    """The topic seen first but for less time comes after the longer one."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Math")
    clock.advance(30)
    await track(client, clock, session_id, "Biology")
    clock.advance(60)

    data = await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    assert durations(data) == [("Biology", 60), ("Math", 30)]


async def test_end_counts_every_tracked_frame(client: AppClient, clock: FakeClock) -> None:
    """The analysis total counts each track call, also repeated frames of one topic."""
    session_id = await start_session(client)
    for _ in range(3):
        await track(client, clock, session_id, "Biology")
        clock.advance(10)
    await track(client, clock, session_id, "Math")

    data = await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    assert data["totalAnalyses"] == 4


async def test_end_of_a_session_without_frames_has_no_topics(
    client: AppClient, clock: FakeClock
) -> None:
    """A session with no analysed frame ends with its duration and no topic stats."""
    session_id = await start_session(client)
    clock.advance(42)

    data = await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    assert data["durationSeconds"] == 42
    assert data["totalAnalyses"] == 0
    assert data["topicStats"] == []


async def test_ending_twice_is_a_conflict(client: AppClient) -> None:
    """The second end of one session answers 409 session_not_active."""
    session_id = await start_session(client)
    await data_of(await client.post(f"/api/session/{session_id}/end"), 200)

    error = await error_of(await client.post(f"/api/session/{session_id}/end"), 409)

    assert error["code"] == "session_not_active"


async def test_ending_an_unknown_session_is_not_found(client: AppClient) -> None:
    """Ending an id nobody made answers 404 session_not_found."""
    error = await error_of(await client.post("/api/session/no-such-session/end"), 404)

    assert error["code"] == "session_not_found"


async def test_topic_stats_of_an_unknown_session_is_not_found(client: AppClient) -> None:
    """Topic stats of an id nobody made answer 404 session_not_found."""
    error = await error_of(await client.get("/api/session/no-such-session/topic-stats"), 404)

    assert error["code"] == "session_not_found"
    assert "no-such-session" in error["message"]  # the id the phone asked for, named back


async def test_topic_stats_of_a_running_session_count_up_to_now(
    client: AppClient, clock: FakeClock
) -> None:
    """A running session's topic stats include its running segment up to the current time."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(60)
    await track(client, clock, session_id, "Math")
    clock.advance(45)

    stats = await data_of(await client.get(f"/api/session/{session_id}/topic-stats"), 200)

    assert stats["active"] is True
    assert stats["endedAt"] is None
    assert stats["endReason"] is None
    assert stats["totalSeconds"] == 105
    assert durations(stats) == [("Biology", 60), ("Math", 45)]


async def test_topic_stats_of_an_ended_session_stop_at_its_end(
    client: AppClient, clock: FakeClock
) -> None:
    """Time after the end is not counted: topic stats stay as they were at the end."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(60)
    await data_of(await client.post(f"/api/session/{session_id}/end"), 200)
    clock.advance(600)

    stats = await data_of(await client.get(f"/api/session/{session_id}/topic-stats"), 200)

    assert stats["endReason"] == "ended"
    assert stats["totalSeconds"] == 60
    assert durations(stats) == [("Biology", 60)]


async def test_start_with_invalid_json_is_rejected(client: AppClient) -> None:
    """A body that is not JSON answers 400 invalid_json."""
    response = await client.post(
        "/api/session/start", data=b"{not json", headers={"Content-Type": "application/json"}
    )

    error = await error_of(response, 400)

    assert error["code"] == "invalid_json"


@pytest.mark.parametrize("body", [b"[]", b'["userId"]', b'"text"', b"42", b"null"])
async def test_start_with_a_json_non_object_is_rejected(client: AppClient, body: bytes) -> None:
    """A JSON body that is not an object answers 400 invalid_request."""
    response = await client.post(
        "/api/session/start", data=body, headers={"Content-Type": "application/json"}
    )

    error = await error_of(response, 400)

    assert error["code"] == "invalid_request"


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}"])
async def test_start_accepts_an_empty_body(client: AppClient, body: bytes) -> None:
    """No body, a blank one or `{}` all start a session."""
    response = await client.post(
        "/api/session/start", data=body, headers={"Content-Type": "application/json"}
    )

    data = await data_of(response, 201)

    assert data["sessionId"]


async def test_start_ignores_unknown_fields_of_old_clients(client: AppClient) -> None:
    """The old iOS client's `userId` (and any other unknown field) is ignored."""
    response = await client.post(
        "/api/session/start", json={"userId": "ios-user-1", "deviceModel": "iPhone"}
    )

    data = await data_of(response, 201)

    assert data["sessionId"]
