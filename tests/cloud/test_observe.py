"""The request log and `/metrics`.

One JSON line per request with its id, route and caller's pseudonym (never a token), and
Prometheus series for requests and sync ingest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cloud.settings import CloudSettings
from shared.logs import hash_id
from tests.cloud.support import (
    bearer,
    cloud_env,
    data_of,
    error_of,
    link_device,
    running_cloud,
    session_item,
    sign_in,
)
from tests.cloud.test_admin import admin_pair
from tests.fakes.google import FakeGoogle
from tests.support import JsonLines, berlin, json_lines

METRICS_TOKEN = "scrape-0123456789abcdef"  # noqa: S105 - a test's own token


def of_request(lines: JsonLines, answer: httpx.Response) -> list[dict[str, Any]]:
    """The lines of the request `answer` answered."""
    return lines.of(answer.headers["x-request-id"])


@pytest.fixture
def request_lines() -> Iterator[JsonLines]:
    """Every line `cloud.requests` writes during the test."""
    with json_lines("cloud.requests", logging.INFO) as lines:
        yield lines


async def test_every_answer_carries_a_request_id(cloud: httpx.AsyncClient) -> None:
    """A fresh one per request when the client sends none."""
    first = await cloud.get("/healthz")
    second = await cloud.get("/healthz")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert len(first.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("offered", "kept"),
    [
        ("edge-7f3a9c21-batch", True),
        ("short", False),  # fewer than 8 characters
        ("a" * 65, False),
        ("two words here", False),
        ("line\nbreak-000000", False),
    ],
)
async def test_a_plain_client_request_id_is_kept_else_replaced(
    cloud: httpx.AsyncClient, offered: str, kept: bool
) -> None:
    """The client's id when it is a plain token of 8 to 64 characters; anything else is ours."""
    try:
        answer = await cloud.get("/healthz", headers={"X-Request-Id": offered})
    except httpx.LocalProtocolError:  # httpx refuses to send a line break: nothing to check
        assert not kept
        return

    assert (answer.headers["x-request-id"] == offered) is kept


async def test_a_request_line_names_the_route_status_and_caller_pseudonym(
    cloud: httpx.AsyncClient, google: FakeGoogle, request_lines: JsonLines
) -> None:
    """The template, not the path; the hashed user id, not the id; no token anywhere."""
    student = await sign_in(cloud, google)
    device = await link_device(cloud, student)
    token = student["accessToken"]
    answer = await cloud.delete(f"/api/devices/{device['deviceId']}", headers=bearer(token))
    assert answer.status_code == 200, answer.text

    [line] = of_request(request_lines, answer)
    assert line["route"] == "/api/devices/{device_id}"
    assert (line["method"], line["status"]) == ("DELETE", 200)
    assert line["user"] == hash_id(student["userId"])
    assert line["durationMs"] >= 0
    text = json.dumps(request_lines.lines)
    assert device["deviceId"] not in text
    assert student["userId"] not in text
    assert token not in text
    assert student["refreshToken"] not in text


async def test_a_refused_request_is_logged_with_its_status(
    cloud: httpx.AsyncClient, request_lines: JsonLines
) -> None:
    """A 401 is one line too, with no caller."""
    answer = await cloud.get("/api/me")

    [line] = of_request(request_lines, answer)
    assert (line["route"], line["status"], line["user"]) == ("/api/me", 401, None)


async def test_an_unknown_path_is_logged_as_unmatched(
    cloud: httpx.AsyncClient, request_lines: JsonLines
) -> None:
    """A path no route has: the line says `unmatched`, not the path a client made up."""
    answer = await cloud.get("/api/nothing-here/secret-looking-thing")

    [line] = of_request(request_lines, answer)
    assert (line["route"], line["status"]) == ("unmatched", 404)
    assert "secret-looking-thing" not in json.dumps(line)


# --- /metrics ---------------------------------------------------------------------------------


async def test_metrics_need_the_metrics_token_or_an_admin(
    start_cloud: Any, google: FakeGoogle, cloud_settings: CloudSettings
) -> None:
    """No token 401, a student 403, a wrong scraper token 401; the right one and an admin 200."""
    cloud = await start_cloud(metrics_token=SecretStr(METRICS_TOKEN))
    student = await sign_in(cloud, google, "sub-student", "student@example.com")
    admin = await admin_pair(cloud, google, cloud_settings)

    assert error_of(await cloud.get("/metrics"), 401)["code"] == "unauthenticated"
    assert error_of(await cloud.get("/metrics", headers=bearer(student["accessToken"])), 403)
    assert error_of(await cloud.get("/metrics", headers=bearer("scrape-wrong")), 401)
    assert (await cloud.get("/metrics", headers=bearer(METRICS_TOKEN))).status_code == 200
    assert (await cloud.get("/metrics", headers=bearer(admin["accessToken"]))).status_code == 200


def series(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


async def test_requests_and_ingest_are_counted(start_cloud: Any, google: FakeGoogle) -> None:
    """A batch of two items: one more batch request, two items stored, one batch of 2."""
    cloud = await start_cloud(metrics_token=SecretStr(METRICS_TOKEN))
    edge = await link_device(cloud, await sign_in(cloud, google))
    start = berlin("2026-11-25 09:00")
    items = [session_item(start), session_item(start)]

    result = data_of(
        await cloud.post(
            "/api/sync/batch", json={"items": items}, headers=bearer(edge["accessToken"])
        )
    )
    text = (await cloud.get("/metrics", headers=bearer(METRICS_TOKEN))).text

    assert result["stored"] == 2
    route = {"method": "POST", "route": "/api/sync/batch", "status": "200"}
    assert series(text, "studylens_cloud_request_seconds_count", **route) == 1
    assert series(text, "studylens_cloud_ingest_items_total", status="stored") == 2
    assert series(text, "studylens_cloud_ingest_batch_items_count") == 1
    assert series(text, "studylens_cloud_ingest_batch_items_bucket", le="1.0") == 0
    assert series(text, "studylens_cloud_ingest_batch_items_bucket", le="5.0") == 1
    assert series(text, "studylens_cloud_ingest_seconds_count") == 1


@pytest.mark.timeout(120)
async def test_json_logs_and_metrics_summed_over_workers(
    live_google: FakeGoogle, pg_database_url: str, tmp_path: Path
) -> None:
    """`serve --workers 2`, `log_format=json`: every line JSON, /metrics counts both workers.

    `/metrics`, whichever worker answers it, counts the requests both workers logged.
    """
    log = tmp_path / "serve.log"
    env = cloud_env(
        tmp_path / "cloud",
        live_google,
        database_url=pg_database_url,
        log_level="info",
        log_format="json",
        metrics_token=METRICS_TOKEN,
    )
    with log.open("w") as out:
        async with running_cloud(env, workers=2, stderr=out) as [server]:
            # A new connection each time, until both workers have answered some (bounded).
            for _ in range(300):
                async with httpx.AsyncClient(base_url=server.base_url) as http:
                    assert (await http.get("/healthz")).status_code == 200
                if len(served_by(log)) >= 2:
                    break
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                text = (await http.get("/metrics", headers=bearer(METRICS_TOKEN))).text
            logged = sum(served_by(log).values())
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert len(served_by(log)) == 2
    assert series(text, "studylens_cloud_request_seconds_count", **healthz) == logged
    assert all({"time", "level", "logger", "message", "pid"} <= set(line) for line in lines)


def served_by(log: Path) -> dict[int, int]:
    """How many `/healthz` requests each worker process logged so far."""
    counts: dict[int, int] = {}
    for text in log.read_text().splitlines():
        line = json.loads(text) if text.startswith("{") else {}
        if line.get("route") == "/healthz":
            counts[line["pid"]] = counts.get(line["pid"], 0) + 1
    return counts
