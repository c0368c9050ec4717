"""The daemon's request log: an id on every answer, one line per request, no token in any line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from edge.settings import EdgeSettings
from shared.logs import hash_id
from tests.support import AppClient, JsonLines, json_lines, pair_device, services_of


@pytest.fixture
def request_lines() -> Iterator[JsonLines]:
    """Every line `edge.requests` writes during the test, successes (DEBUG) included."""
    with json_lines("edge.requests", logging.DEBUG) as lines:
        yield lines


async def device_id(client: AppClient) -> str:
    """The id of the phone the test client is paired as."""
    rows = await services_of(client).store.run(
        lambda db: [r["id"] for r in db.query("SELECT id FROM devices")]
    )
    [found] = rows
    return str(found)


async def test_every_answer_carries_its_own_request_id(client: AppClient) -> None:
    """A fresh one each time; a plain one the phone chose is kept."""
    first = await client.get("/healthz")
    second = await client.get("/healthz", headers={"X-Request-Id": "phone-frame-000123"})

    assert len(first.headers["X-Request-Id"]) == 32
    assert second.headers["X-Request-Id"] == "phone-frame-000123"


async def test_a_phone_request_line_names_the_route_and_a_pseudonym(
    client: AppClient, request_lines: JsonLines
) -> None:
    """The pattern, not the path; the device's pseudonym, never its id or token."""
    started = await client.post("/api/session/start")
    session = (await started.json())["data"]["sessionId"]
    ended = await client.post(f"/api/session/{session}/end")

    [line] = request_lines.of(ended.headers["X-Request-Id"])
    assert (line["route"], line["status"], line["level"]) == (
        "/api/session/{session_id}/end",
        200,
        "DEBUG",
    )
    assert line["user"] == hash_id(await device_id(client))
    assert session not in json.dumps(request_lines.lines)


async def test_the_event_stream_token_never_reaches_a_line(
    client: AppClient, anon: aiohttp.ClientSession, settings: EdgeSettings, request_lines: JsonLines
) -> None:
    """`/api/events?token=` is logged as its route once the stream ends; the token is nowhere."""
    token = pair_device(settings, "browser tab")
    answer = await anon.get(client.make_url(f"/api/events?token={token}"))
    assert answer.status == 200
    request = answer.headers["X-Request-Id"]
    answer.close()  # the daemon notices within a second and ends the stream

    async with asyncio.timeout(10):
        [line] = await request_lines.wait_for(request)

    assert line["route"] == "/api/events"
    assert token not in json.dumps(request_lines.lines)


async def test_the_owner_is_named_owner(owner: AppClient, request_lines: JsonLines) -> None:
    """The browser of this computer: `owner`."""
    answer = await owner.get("/api/devices")

    [line] = request_lines.of(answer.headers["X-Request-Id"])
    assert (line["user"], line["status"]) == ("owner", 200)


async def test_a_refusal_is_info_and_names_no_caller(
    anon: Any, client: AppClient, request_lines: JsonLines
) -> None:
    """No token: 401 at INFO, before the access rules named anyone."""
    answer = await anon.get(f"{client.make_url('/api/sessions')}")

    [line] = request_lines.of(answer.headers["X-Request-Id"])
    assert (line["status"], line["level"], line["user"]) == (401, "INFO", None)


async def test_an_unknown_path_is_unmatched(client: AppClient, request_lines: JsonLines) -> None:
    """A made-up path is not written into the log."""
    answer = await client.get("/api/made-up/abcdef0123")

    [line] = request_lines.of(answer.headers["X-Request-Id"])
    assert (line["route"], line["status"]) == ("unmatched", 404)
    assert "abcdef0123" not in json.dumps(line)
