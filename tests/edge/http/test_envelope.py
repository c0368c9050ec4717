"""The JSON envelope on every response: routing errors, oversized bodies, unexpected failures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.http.access import ROUTE_ACCESS, Access
from edge.settings import EdgeSettings
from tests.support import (
    AppClient,
    EdgeTestServer,
    FakeClock,
    StartApp,
    authorized,
    error_of,
    pair_device,
)

SMALL_LIMIT = 2048
BOOM_MESSAGE = "secret-internal-detail-42"


def json_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    frame = b'{"pad": ""}'
    body = frame[:-2] + b"x" * (size - len(frame)) + frame[-2:]
    assert len(body) == size
    return body


@pytest.fixture
async def boom_client(
    settings: EdgeSettings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AppClient]:
    """The edge app with one extra route, GET /boom, whose handler raises RuntimeError."""
    monkeypatch.setitem(ROUTE_ACCESS, ("GET", "/boom"), Access.PHONE)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError(BOOM_MESSAGE)

    app = create_app(settings, clock)
    app.router.add_get("/boom", boom)
    client: AppClient = TestClient(EdgeTestServer(app), headers=authorized(pair_device(settings)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_unknown_path_is_a_not_found_envelope(client: AppClient) -> None:
    """A path no route serves answers 404 not_found in the JSON envelope."""
    response = await client.get("/api/no-such-route")

    error = await error_of(response, 404)
    assert error["code"] == "not_found"
    assert error["message"]
    assert set(error) == {"code", "message"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/session/start", {"POST"}),
        ("DELETE", "/api/bookmark", {"POST"}),
        ("PUT", "/api/session/abc/end", {"POST"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
    ],
)
async def test_wrong_method_is_method_not_allowed_with_allow_header(
    client: AppClient, method: str, path: str, allowed: set[str]
) -> None:
    """A known path with the wrong method answers 405 method_not_allowed and an Allow header."""
    response = await client.request(method, path)

    error = await error_of(response, 405)
    assert error["code"] == "method_not_allowed"
    assert {part.strip() for part in response.headers["Allow"].split(",")} == allowed


async def test_body_over_the_limit_is_payload_too_large(start_app: StartApp) -> None:
    """A JSON body larger than max_json_body_bytes answers 413 payload_too_large."""
    client = await start_app(max_json_body_bytes=SMALL_LIMIT)

    response = await client.post(
        "/api/session/start",
        data=json_body(2 * SMALL_LIMIT),
        headers={"Content-Type": "application/json"},
    )

    error = await error_of(response, 413)
    assert error["code"] == "payload_too_large"


async def test_body_of_exactly_the_limit_is_accepted(start_app: StartApp) -> None:
    """A JSON body of exactly max_json_body_bytes is still read ("413 beyond" the limit)."""
    client = await start_app(max_json_body_bytes=SMALL_LIMIT)

    response = await client.post(
        "/api/session/start",
        data=json_body(SMALL_LIMIT),
        headers={"Content-Type": "application/json"},
    )

    assert response.status == 201, await response.text()


async def test_server_still_answers_after_a_too_large_body(start_app: StartApp) -> None:
    """After refusing an oversized body the daemon goes on serving requests."""
    client = await start_app(max_json_body_bytes=SMALL_LIMIT)
    refused = await client.post(
        "/api/session/start",
        data=json_body(2 * SMALL_LIMIT),
        headers={"Content-Type": "application/json"},
    )
    assert refused.status == 413
    await refused.release()

    health = await client.get("/healthz")

    assert health.status == 200
    assert (await health.json())["data"]["status"] == "ok"


async def test_unexpected_error_is_internal_error_with_an_error_id(
    boom_client: AppClient,
) -> None:
    """An exception a handler did not expect answers 500 internal_error with an errorId."""
    response = await boom_client.get("/boom")

    error = await error_of(response, 500)
    assert error["code"] == "internal_error"
    assert error["errorId"]
    assert error["errorId"] in error["message"]


async def test_unexpected_error_id_is_in_the_logs(
    boom_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The errorId of a 500 is logged, with the traceback, so it can be looked up."""
    caplog.set_level(logging.ERROR)

    error = await error_of(await boom_client.get("/boom"), 500)

    logged = [r for r in caplog.records if error["errorId"] in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    assert logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], RuntimeError)


async def test_unexpected_error_hides_its_details_from_the_client(
    boom_client: AppClient,
) -> None:
    """The 500 body carries no traceback, exception type or exception message."""
    response = await boom_client.get("/boom")

    text = await response.text()
    assert response.status == 500
    for leak in ("Traceback", "RuntimeError", BOOM_MESSAGE, 'File "', "raise "):
        assert leak not in text


async def test_unexpected_error_is_json(boom_client: AppClient) -> None:
    """The 500 response is application/json like every other."""
    response = await boom_client.get("/boom")

    assert response.status == 500
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/healthz", None, 200),
        ("POST", "/api/session/start", b"", 201),
        ("GET", "/api/today/topic-stats", None, 200),
        ("GET", "/api/topic/weekly", None, 200),
        ("POST", "/api/session/start", b"{oops", 400),
        ("GET", "/api/topic/daily?date=yesterday", None, 400),
        ("POST", "/api/bookmark", b'{"note": "no session"}', 400),
        ("GET", "/nowhere", None, 404),
        ("POST", "/api/session/nobody/end", b"", 404),
        ("GET", "/api/session/start", None, 405),
        ("POST", "/api/session/start", json_body(2 * SMALL_LIMIT), 413),
    ],
)
async def test_every_response_is_json(
    start_app: StartApp, method: str, path: str, body: bytes | None, status: int
) -> None:
    """Successes and failures alike come back as application/json."""
    client = await start_app(max_json_body_bytes=SMALL_LIMIT)

    response = await client.request(
        method, path, data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    assert (await response.json())["success"] is (status < 400)


async def test_conflict_is_json(client: AppClient) -> None:
    """A 409 (ending an ended session) comes back as application/json."""
    started = await client.post("/api/session/start")
    session_id = (await started.json())["data"]["sessionId"]
    await (await client.post(f"/api/session/{session_id}/end")).release()

    response = await client.post(f"/api/session/{session_id}/end")

    assert response.status == 409
    assert response.content_type == "application/json"
