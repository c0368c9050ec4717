"""Bookmarks and help requests over HTTP: what the student marks during a session."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlite_utils

from edge.bookmarks import MAX_NOTE_LENGTH
from shared.clock import to_iso
from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    berlin,
    data_of,
    error_of,
    services_of,
    start_session,
)


async def add_analysis(client: AppClient, clock: FakeClock, session_id: str) -> str:
    """Store one analysed frame of a session (there is no upload route yet); return its id."""
    analysis_id = str(uuid.uuid4())

    def insert(db: sqlite_utils.Database) -> None:
        db.table("learning_events").insert(
            {
                "id": analysis_id,
                "session_id": session_id,
                "captured_at": to_iso(clock.now()),
                "outcome": "analysed",
                "analysis_json": "{}",
                "is_studying": 1,
                "is_active": 1,
                "is_distracted": 0,
            }
        )

    await services_of(client).store.run(insert)
    return analysis_id


def problem_fields(error: Any) -> set[str]:
    """Return the field names a 400's details complain about."""
    return {problem["field"] for problem in error.get("details") or []}


# --- bookmarks ------------------------------------------------------------------------------


async def test_bookmark_returns_201_with_the_bookmark(client: AppClient) -> None:
    """POST /api/bookmark answers 201 with the new bookmark's id, session, note and time."""
    session_id = await start_session(client)

    response = await client.post(
        "/api/bookmark", json={"sessionId": session_id, "note": "mitosis diagram"}
    )

    data = await data_of(response, 201)
    assert data["bookmarkId"]
    assert data["sessionId"] == session_id
    assert data["analysisId"] is None
    assert data["note"] == "mitosis diagram"
    assert data["createdAt"] == "2026-11-25T09:00:00.000Z"


async def test_bookmark_without_note_has_an_empty_note(client: AppClient) -> None:
    """The note is optional and defaults to the empty string."""
    session_id = await start_session(client)

    data = await data_of(await client.post("/api/bookmark", json={"sessionId": session_id}), 201)

    assert data["note"] == ""


async def test_session_bookmarks_list_them_oldest_first(
    client: AppClient, clock: FakeClock
) -> None:
    """GET /api/session/{id}/bookmarks lists the session's bookmarks in the order made."""
    session_id = await start_session(client)
    first = await data_of(
        await client.post("/api/bookmark", json={"sessionId": session_id, "note": "one"}), 201
    )
    clock.advance(5)
    second = await data_of(
        await client.post("/api/bookmark", json={"sessionId": session_id, "note": "two"}), 201
    )

    listed = await data_of(await client.get(f"/api/session/{session_id}/bookmarks"))

    assert listed == {"sessionId": session_id, "bookmarks": [first, second]}


async def test_session_bookmarks_leave_out_other_sessions(client: AppClient) -> None:
    """A session's list holds only its own bookmarks."""
    first = await start_session(client)
    await data_of(await client.post("/api/bookmark", json={"sessionId": first}), 201)
    second = await start_session(client)

    listed = await data_of(await client.get(f"/api/session/{second}/bookmarks"))

    assert listed["bookmarks"] == []


async def test_bookmark_note_longer_than_the_limit_is_rejected(client: AppClient) -> None:
    """A note of 2001 characters answers 400 invalid_request naming `note`."""
    session_id = await start_session(client)

    response = await client.post(
        "/api/bookmark", json={"sessionId": session_id, "note": "x" * (MAX_NOTE_LENGTH + 1)}
    )

    error = await error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert problem_fields(error) == {"note"}


async def test_bookmark_note_of_exactly_the_limit_is_kept_whole(client: AppClient) -> None:
    """A note of exactly 2000 characters is accepted and stored unshortened."""
    session_id = await start_session(client)
    note = "n" * MAX_NOTE_LENGTH

    data = await data_of(
        await client.post("/api/bookmark", json={"sessionId": session_id, "note": note}), 201
    )

    assert data["note"] == note


@pytest.mark.parametrize("session_id", [12345, None, True, ["abc"], {"id": "abc"}])
async def test_bookmark_with_a_non_string_session_id_is_rejected(
    client: AppClient, session_id: object
) -> None:
    """A sessionId of the wrong JSON type answers 400 invalid_request naming `sessionId`."""
    error = await error_of(await client.post("/api/bookmark", json={"sessionId": session_id}), 400)

    assert error["code"] == "invalid_request"
    assert problem_fields(error) == {"sessionId"}


@pytest.mark.parametrize("body", [{}, {"note": "no session"}, {"sessionID": "wrong-case"}])
async def test_bookmark_without_session_id_is_rejected(
    client: AppClient, body: dict[str, str]
) -> None:
    """A body without `sessionId` answers 400 invalid_request naming `sessionId`."""
    error = await error_of(await client.post("/api/bookmark", json=body), 400)

    assert error["code"] == "invalid_request"
    assert problem_fields(error) == {"sessionId"}


async def test_bookmark_of_an_unknown_session_is_not_found(client: AppClient) -> None:
    """A sessionId nobody made answers 404 session_not_found."""
    error = await error_of(
        await client.post("/api/bookmark", json={"sessionId": "no-such-session"}), 404
    )

    assert error["code"] == "session_not_found"


async def test_bookmark_of_an_unknown_analysis_is_not_found(client: AppClient) -> None:
    """An analysisId nobody made answers 404 analysis_not_found."""
    session_id = await start_session(client)

    response = await client.post(
        "/api/bookmark", json={"sessionId": session_id, "analysisId": "no-such-analysis"}
    )

    error = await error_of(response, 404)
    assert error["code"] == "analysis_not_found"


async def test_bookmark_of_an_analysis_of_the_session_keeps_its_id(
    client: AppClient, clock: FakeClock
) -> None:
    """A bookmark may point at one of its session's analysed frames."""
    session_id = await start_session(client)
    analysis_id = await add_analysis(client, clock, session_id)

    data = await data_of(
        await client.post(
            "/api/bookmark", json={"sessionId": session_id, "analysisId": analysis_id}
        ),
        201,
    )

    assert data["analysisId"] == analysis_id


async def test_bookmark_of_another_sessions_analysis_is_not_found(
    client: AppClient, clock: FakeClock
) -> None:
    """An analysis of a different session answers 404 analysis_not_found."""
    other = await start_session(client)
    analysis_id = await add_analysis(client, clock, other)
    session_id = await start_session(client)

    response = await client.post(
        "/api/bookmark", json={"sessionId": session_id, "analysisId": analysis_id}
    )

    error = await error_of(response, 404)
    assert error["code"] == "analysis_not_found"


async def test_bookmarks_of_an_unknown_session_are_not_found(client: AppClient) -> None:
    """Listing bookmarks of an id nobody made answers 404 session_not_found."""
    error = await error_of(await client.get("/api/session/no-such-session/bookmarks"), 404)

    assert error["code"] == "session_not_found"


async def test_bookmark_counts_as_activity_against_idling(
    client: AppClient, clock: FakeClock
) -> None:
    """A bookmark keeps its running session from being ended as idle."""
    session_id = await start_session(client)
    clock.advance(29 * 60)
    await data_of(await client.post("/api/bookmark", json={"sessionId": session_id}), 201)
    clock.advance(2 * 60)

    ended = await services_of(client).sessions.end_idle()

    assert ended == []


# --- help requests --------------------------------------------------------------------------


async def test_help_count_returns_201_with_the_counts(client: AppClient) -> None:
    """POST /api/help-count answers 201 with the session's and the day's counts."""
    session_id = await start_session(client)

    data = await data_of(await client.post("/api/help-count", json={"sessionId": session_id}), 201)

    assert data == {
        "sessionId": session_id,
        "date": "2026-11-25",
        "sessionCount": 1,
        "dayCount": 1,
    }


async def test_help_count_increments_with_each_request(client: AppClient) -> None:
    """Each help request raises both counts by one."""
    session_id = await start_session(client)
    counts = []
    for _ in range(3):
        data = await data_of(
            await client.post("/api/help-count", json={"sessionId": session_id}), 201
        )
        counts.append((data["sessionCount"], data["dayCount"]))

    assert counts == [(1, 1), (2, 2), (3, 3)]


async def test_help_count_of_the_day_spans_sessions(client: AppClient) -> None:
    """The day's count includes earlier sessions; the session's count does not."""
    first = await start_session(client)
    for _ in range(2):
        await data_of(await client.post("/api/help-count", json={"sessionId": first}), 201)
    second = await start_session(client)

    data = await data_of(await client.post("/api/help-count", json={"sessionId": second}), 201)

    assert (data["sessionCount"], data["dayCount"]) == (1, 3)


async def test_help_count_is_dated_by_local_time(start_app: StartApp, clock: FakeClock) -> None:
    """A help request just after local midnight counts on the local day, not the UTC one."""
    clock.current = berlin("2026-11-25 00:30")
    client = await start_app()
    session_id = await start_session(client)

    data = await data_of(await client.post("/api/help-count", json={"sessionId": session_id}), 201)
    report = await data_of(await client.get("/api/help-count", params={"date": "2026-11-25"}))

    assert data["date"] == "2026-11-25"
    assert report["count"] == 1


async def test_help_count_on_an_ended_session_is_a_conflict(client: AppClient) -> None:
    """Help requests count only in a running session: an ended one answers 409."""
    session_id = await start_session(client)
    await data_of(await client.post(f"/api/session/{session_id}/end"))

    error = await error_of(
        await client.post("/api/help-count", json={"sessionId": session_id}), 409
    )

    assert error["code"] == "session_not_active"


async def test_help_count_of_an_unknown_session_is_not_found(client: AppClient) -> None:
    """A sessionId nobody made answers 404 session_not_found."""
    error = await error_of(
        await client.post("/api/help-count", json={"sessionId": "no-such-session"}), 404
    )

    assert error["code"] == "session_not_found"


async def test_help_count_without_session_id_is_rejected(client: AppClient) -> None:
    """A help request without a sessionId answers 400 invalid_request naming `sessionId`."""
    error = await error_of(await client.post("/api/help-count", json={}), 400)

    assert error["code"] == "invalid_request"
    assert problem_fields(error) == {"sessionId"}


async def test_help_report_counts_per_session(client: AppClient, clock: FakeClock) -> None:
    """GET /api/help-count?date= reports the day's total and each session's count in order."""
    first = await start_session(client)
    for _ in range(2):
        await data_of(await client.post("/api/help-count", json={"sessionId": first}), 201)
    clock.advance(60)
    second = await start_session(client)
    await data_of(await client.post("/api/help-count", json={"sessionId": second}), 201)

    report = await data_of(await client.get("/api/help-count", params={"date": "2026-11-25"}))

    assert report == {
        "date": "2026-11-25",
        "count": 3,
        "sessions": [{"sessionId": first, "count": 2}, {"sessionId": second, "count": 1}],
    }


async def test_help_report_without_a_date_is_today(client: AppClient) -> None:
    """GET /api/help-count with no date reports today."""
    session_id = await start_session(client)
    await data_of(await client.post("/api/help-count", json={"sessionId": session_id}), 201)

    report = await data_of(await client.get("/api/help-count"))

    assert report["date"] == "2026-11-25"
    assert report["count"] == 1


async def test_help_report_of_another_day_is_empty(client: AppClient) -> None:
    """Help requests of today do not show on another day."""
    session_id = await start_session(client)
    await data_of(await client.post("/api/help-count", json={"sessionId": session_id}), 201)

    report = await data_of(await client.get("/api/help-count", params={"date": "2026-11-24"}))

    assert report == {"date": "2026-11-24", "count": 0, "sessions": []}


@pytest.mark.parametrize("raw", ["2026-13-01", "yesterday", "2026-1-5", ""])
async def test_help_report_rejects_a_bad_date(client: AppClient, raw: str) -> None:
    """A date that is not a real YYYY-MM-DD answers 400 invalid_date."""
    error = await error_of(await client.get("/api/help-count", params={"date": raw}), 400)

    assert error["code"] == "invalid_date"
