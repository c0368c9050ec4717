"""Helpers for cloud tests: envelopes, sign-in, linking a device, sync items."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.fakes.google import FakeGoogle


def data_of(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a success envelope, checking the status first."""
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is True, body
    return body["data"]


def error_of(response: httpx.Response, status: int) -> Any:
    """The `error` of a failure envelope, checking the status first."""
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False, body
    return body["error"]


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def sign_in(
    client: httpx.AsyncClient,
    google: FakeGoogle,
    sub: str = "google-sub-1",
    email: str = "ada@example.com",
) -> dict[str, Any]:
    """Sign in with a good Google token; return the token pair (cookies dropped)."""
    response = await client.post("/api/auth/google", json={"idToken": google.token(sub, email)})
    client.cookies.clear()  # tests say which token they use
    pair: dict[str, Any] = data_of(response)
    return pair


async def link_device(
    client: httpx.AsyncClient, user_pair: dict[str, Any], name: str = "Desk Pi"
) -> dict[str, Any]:
    """Run the device code flow to the end; return the device's sync token pair."""
    code = data_of(await client.post("/api/devices/code", json={"name": name}))
    approved = await client.post(
        "/api/devices/approve",
        json={"userCode": code["userCode"]},
        headers=bearer(user_pair["accessToken"]),
    )
    data_of(approved)
    pair: dict[str, Any] = data_of(
        await client.post("/api/devices/token", json={"deviceCode": code["deviceCode"]})
    )
    return pair


def iso(moment: datetime) -> str:
    """ISO 8601 with offset, as the edge sends times."""
    return moment.isoformat()


def session_item(
    started: datetime, *, local_date: str = "2026-11-25", revision: int = 0, **payload: Any
) -> dict[str, Any]:
    """A session fact."""
    return {
        "id": str(payload.pop("id", uuid.uuid4())),
        "kind": "session",
        "revision": revision,
        "payload": {
            "localDate": local_date,
            "startedAt": iso(started),
            "lastActivityAt": iso(started),
        }
        | payload,
    }


def segment_item(
    session_id: str,
    topic: str,
    started: datetime,
    seconds: float,
    *,
    local_date: str = "2026-11-25",
    revision: int = 0,
    item_id: str | None = None,
    ended: bool = True,
) -> dict[str, Any]:
    """A topic segment fact lasting `seconds`."""
    end = started + timedelta(seconds=seconds)
    payload: dict[str, Any] = {
        "sessionId": session_id,
        "topic": topic,
        "localDate": local_date,
        "startedAt": iso(started),
        "lastSeenAt": iso(end),
        "activeCount": 1,
        "passiveCount": 2,
        "distractedCount": 0,
    }
    if ended:
        payload |= {"endedAt": iso(end), "durationSeconds": seconds}
    return {
        "id": item_id or str(uuid.uuid4()),
        "kind": "topic_segment",
        "revision": revision,
        "payload": payload,
    }


def event_item(
    session_id: str, topic: str, captured: datetime, *, local_date: str = "2026-11-25"
) -> dict[str, Any]:
    """An analysed learning event."""
    return {
        "id": str(uuid.uuid4()),
        "kind": "learning_event",
        "payload": {
            "sessionId": session_id,
            "localDate": local_date,
            "capturedAt": iso(captured),
            "outcome": "analysed",
            "source": "gpt-4.1",
            "topic": topic,
            "subtopic": None,
            "isStudying": True,
            "isActive": True,
            "isDistracted": False,
            "extractedText": "mitosis",
        },
    }
