"""Bytes a client controls, sent raw: every header the edge reads, multipart framing, slow bodies.

Each answer is a 4xx in the JSON envelope (never a 500), the daemon keeps serving, and the
log carries no traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from edge.settings import EdgeSettings
from tests.fakes.images import jpeg
from tests.support import (
    AppClient,
    LogLine,
    StartApp,
    data_of,
    pair_device,
    parse_answer,
    raw_exchange,
)

BOUNDARY = b"StudyLensBoundary"


def raw(method: str, path: str, *headers: bytes, body: bytes = b"") -> bytes:
    """One HTTP/1.1 request, exactly these bytes, closing the connection after the answer."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: localhost", b"Connection: close"]
    lines += headers
    if body or method in ("POST", "DELETE"):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def multipart(*part_headers: bytes, content: bytes = b"not really a jpeg") -> bytes:
    """A form with one `image` part carrying extra part headers."""
    head = [b'Content-Disposition: form-data; name="image"; filename="f.jpg"', *part_headers]
    return (
        b"--" + BOUNDARY + b"\r\n" + b"\r\n".join(head) + b"\r\n\r\n" + content + b"\r\n"
        b"--" + BOUNDARY + b"--\r\n"
    )


FORM = b"Content-Type: multipart/form-data; boundary=" + BOUNDARY


@pytest.fixture
def token(settings: EdgeSettings) -> bytes:
    """A live phone token, as header bytes."""
    return pair_device(settings, "raw phone").encode()


async def exchange(client: AppClient, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send `request` raw and parse the answer."""
    return parse_answer(await raw_exchange(client, request))


async def assert_still_serving(client: AppClient) -> None:
    """The daemon answers a plain request afterwards."""
    await data_of(await client.get("/healthz"))


BAD_AUTHORIZATION = [
    b"Bearer \xff\xfe\xfd",  # not UTF-8
    b"Bearer caf\xe9-token",  # latin-1
    b"\xff\xfe Bearer x",
    b"Bearer " + b"a" * 5000,
    b"Bearer tok en",
    b"Bearer ===",
]
PRIVATE_ROUTES = [
    ("GET", "/api/help-count"),
    ("POST", "/api/upload-and-analyze"),
    ("POST", "/api/session/start"),
    ("GET", "/api/events"),
    ("GET", "/ws"),
    ("GET", "/api/devices"),
    ("GET", "/no-such-route"),
]


@pytest.mark.parametrize("value", BAD_AUTHORIZATION, ids=repr)
@pytest.mark.parametrize(("method", "path"), PRIVATE_ROUTES)
async def test_a_malformed_authorization_header_is_401(
    client: AppClient, value: bytes, method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Stray bytes in Authorization are an unknown token: 401 in the envelope, no traceback."""
    status, _, body = await exchange(client, raw(method, path, b"Authorization: " + value))

    assert (status, body["success"], body["error"]["code"]) == (401, False, "unauthorized")
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "request_bytes",
    [
        raw("GET", "/api/help-count", b"Authorization: Bearer tok\x01en"),
        raw("GET", "/api/help-count", b"X-Session-Id: a\x00b"),
        raw("GET", "/api/help-count", b"X-Long: " + b"a" * 9000),
        raw("GET", "/api/help-count", *(b"X-H%d: v" % n for n in range(300))),
        raw("POST", "/api/pair", body=b"{}").replace(b"Content-Length: 2", b"Content-Length: x"),
        raw("POST", "/api/pair", b"Content-Length: 5", body=b"{}"),
        b"GET /api/help-count\x00 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello to a plain port",
    ],
    ids=[
        "control-char",
        "nul",
        "header-9000-bytes",
        "300-headers",
        "bad-length",
        "two-lengths",
        "nul-in-path",
        "tls",
    ],
)
async def test_bytes_that_are_not_http_get_400_in_the_envelope(
    client: AppClient, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """What aiohttp's parser refuses is 400 bad_request in the envelope, logged without trace."""
    status, _, body = await exchange(client, request_bytes)

    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "value",
    [b"\xff\xe9", b"caf\xe9", b"a" * 65, b"../../etc/passwd", b"x y", b"'; DROP TABLE x"],
    ids=repr,
)
async def test_a_malformed_session_header_is_400(
    client: AppClient, token: bytes, value: bytes
) -> None:
    """An X-Session-Id that cannot be a session id is 400 invalid_request, before the body."""
    request = raw(
        "POST",
        "/api/upload-and-analyze",
        b"Authorization: Bearer " + token,
        b"X-Session-Id: " + value,
        FORM,
        body=multipart(),
    )

    status, _, body = await exchange(client, request)

    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "form",
    [
        multipart(b"X-Long: " + b"a" * 9000),
        multipart(*(b"X-H%d: v" % n for n in range(5000))),
        multipart(b"\xff\xfe: \xff"),
        b"--" + BOUNDARY + b"\r\nno end of headers",
        b"garbage before any boundary",
    ],
    ids=["part-header-9000-bytes", "5000-part-headers", "binary-part-header", "cut", "garbage"],
)
async def test_malformed_multipart_framing_is_4xx(
    client: AppClient, token: bytes, form: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Oversized, numerous or broken part headers answer 4xx in the envelope, not 500."""
    request = raw(
        "POST", "/api/upload-and-analyze", b"Authorization: Bearer " + token, FORM, body=form
    )

    status, _, body = await exchange(client, request)

    assert 400 <= status < 500, body
    assert body["success"] is False
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "content_type",
    [
        b"Content-Type: multipart/form-data; boundary=\xff\xfe",
        b"Content-Type: multipart/form-data",
        b"Content-Type: \xff/\xff",
        b"Content-Type: multipart/form-data; boundary=" + b"b" * 5000,
    ],
    ids=["binary-boundary", "no-boundary", "binary-type", "long-boundary"],
)
async def test_a_malformed_content_type_is_4xx(
    client: AppClient, token: bytes, content_type: bytes
) -> None:
    """A content type the frame route cannot use answers 4xx in the envelope."""
    request = raw(
        "POST",
        "/api/upload-and-analyze",
        b"Authorization: Bearer " + token,
        content_type,
        body=multipart(),
    )

    status, _, body = await exchange(client, request)

    assert 400 <= status < 500, body
    assert body["success"] is False


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (b"Host: \xff\xfe", "host_not_allowed"),
        (b"Host: evil.example:99999", "host_not_allowed"),
        (b"Origin: \xff://\xfe", "cross_site_refused"),
        (b"Origin: http://localhost:99999", "cross_site_refused"),
        (b"Origin: http://[::1", "cross_site_refused"),
        (b"Sec-Fetch-Site: \xff", "cross_site_refused"),
    ],
    ids=repr,
)
async def test_malformed_host_and_origin_bytes_are_403(
    client: AppClient, header: bytes, code: str
) -> None:
    """Host and Origin that cannot be ours are refused (403), even when they are not text."""
    request = raw("GET", "/healthz", header)
    if header.startswith(b"Host"):
        request = request.replace(b"Host: localhost\r\n", b"")

    status, _, body = await exchange(client, request)

    assert (status, body["error"]["code"]) == (403, code)


async def test_a_corrupt_image_message_names_no_python_object(
    vision_client: AppClient,
) -> None:
    """`bad_image` explains the problem in words, without a repr such as `<_io.BytesIO ...>`."""
    from tests.support import form

    response = await vision_client.post(
        "/api/upload-and-analyze", data=form(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50)
    )

    body = await response.json()
    assert response.status == 400, body
    assert body["error"]["code"] == "bad_image"
    assert " object at 0x" not in body["error"]["message"]
    assert "<" not in body["error"]["message"]


async def test_a_client_leaving_mid_body_is_logged_at_info_without_traceback(
    client: AppClient, token: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A phone dropping off Wi-Fi mid-upload is an INFO line, not an ERROR with a traceback."""
    caplog.set_level(logging.INFO)
    head = raw("POST", "/api/upload-and-analyze", b"Authorization: Bearer " + token, FORM).replace(
        b"Content-Length: 0", b"Content-Length: 100000"
    )
    with LogLine("edge", "client left") as left_line:
        _, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(head + multipart()[:60])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

        async with asyncio.timeout(5):
            await left_line.seen.wait()

    [left] = [r for r in caplog.records if "client left" in r.getMessage()]
    assert left.levelno == logging.INFO
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    await assert_still_serving(client)


# --- slow bodies and many requests ----------------------------------------------------------------


async def test_a_body_that_never_arrives_gets_408_and_the_connection_closes(
    start_app: StartApp,
) -> None:
    """`Content-Length: 100` and one byte, on the open pairing route: 408 after the body timeout."""
    client = await start_app(body_timeout_seconds=0.5)
    request = raw("POST", "/api/pair", b"Content-Type: application/json", body=b"{").replace(
        b"Content-Length: 1", b"Content-Length: 100"
    )

    answer = await raw_exchange(client, request, within=5)  # returns once the server closes

    status, _, body = parse_answer(answer)
    assert (status, body["error"]["code"]) == (408, "request_timeout")


async def test_a_trickled_upload_gets_408(start_app: StartApp, settings: EdgeSettings) -> None:
    """A frame whose multipart body stops halfway is refused with 408 after the body timeout."""
    client = await start_app(body_timeout_seconds=0.5)
    token = pair_device(settings, "slow phone").encode()
    form = multipart(content=jpeg(640, 480))
    request = raw(
        "POST", "/api/upload-and-analyze", b"Authorization: Bearer " + token, FORM, body=form
    )

    answer = await raw_exchange(client, request[: len(request) - 100], within=5)

    status, _, body = parse_answer(answer)
    assert (status, body["error"]["code"]) == (408, "request_timeout")


async def test_one_address_cannot_hold_more_than_its_share(
    start_app: StartApp, settings: EdgeSettings
) -> None:
    """Past `max_requests_per_client` open streams, the next request from that address is 429."""
    client = await start_app(max_requests_per_client=4)
    token = pair_device(settings, "greedy phone")
    headers = {"Authorization": f"Bearer {token}"}
    streams = [await client.get("/api/events", headers=headers) for _ in range(4)]
    try:
        assert [s.status for s in streams] == [200] * 4

        refused = await client.get("/api/help-count", headers=headers)

        body = await refused.json()
        assert (refused.status, body["error"]["code"]) == (429, "too_many_connections")
        assert refused.headers["Retry-After"] == "1"
    finally:
        for stream in streams:
            stream.close()


async def test_closed_streams_give_their_share_back(
    start_app: StartApp, settings: EdgeSettings
) -> None:
    """Once the streams close, the same address is served again."""
    client = await start_app(max_requests_per_client=4)
    headers = {"Authorization": f"Bearer {pair_device(settings, 'phone')}"}
    streams = [await client.get("/api/events", headers=headers) for _ in range(4)]
    for stream in streams:
        stream.close()

    async with asyncio.timeout(5):
        # The server notices closed streams on its own schedule: ask until it has.
        while (await client.get("/api/help-count", headers=headers)).status == 429:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await data_of(await client.get("/api/help-count", headers=headers))


async def test_idle_sockets_past_the_limit_are_hung_up_on(start_app: StartApp) -> None:
    """One address may hold `max_connections_per_client` sockets; the next is cut at once."""
    client = await start_app(max_connections_per_client=4)
    idle = [await asyncio.open_connection(client.host, client.port) for _ in range(4)]
    try:
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(raw("GET", "/healthz"))
        async with asyncio.timeout(5):
            try:
                answer = await reader.read()
            except ConnectionResetError:
                answer = b""
        writer.close()

        assert answer == b""
    finally:
        for _, held in idle:
            held.close()


async def test_a_hung_up_socket_frees_its_place(start_app: StartApp) -> None:
    """Once one of the held sockets closes, the same address is served again."""
    client = await start_app(max_connections_per_client=4)
    idle = [await asyncio.open_connection(client.host, client.port) for _ in range(4)]
    try:
        _, first = idle.pop()
        first.close()
        await first.wait_closed()

        async with asyncio.timeout(5):
            # The server hears of the close on its own schedule: ask until it has.
            while not (answer := await raw_exchange(client, raw("GET", "/healthz"))):  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        assert parse_answer(answer)[0] == 200
    finally:
        for _, held in idle:
            held.close()


@pytest.mark.parametrize(
    "headers",
    [
        (b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Version: 13"),
        (
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Key: \xff\xfe",
            b"Sec-WebSocket-Version: 13",
        ),
        (
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            b"Sec-WebSocket-Version: 99",
        ),
        (),
    ],
    ids=["no-key", "binary-key", "bad-version", "no-upgrade"],
)
async def test_a_broken_websocket_upgrade_is_4xx(
    client: AppClient, token: bytes, headers: tuple[bytes, ...]
) -> None:
    """An upgrade to /ws missing or garbling its WebSocket headers is 4xx in the envelope."""
    request = raw("GET", "/ws", b"Authorization: Bearer " + token, *headers)

    status, _, body = await exchange(client, request)

    assert 400 <= status < 500, body
    assert body["success"] is False


@pytest.mark.parametrize(
    "value", [b"bytes=abc", b"bytes=99999999-", b"bytes=\xff-\xfe", b"lines=1-2"], ids=repr
)
async def test_a_malformed_range_on_a_file_is_not_a_500(client: AppClient, value: bytes) -> None:
    """Range headers on served files answer the file or 416, never a 500."""
    status, _, _ = await exchange(client, raw("GET", "/static/app.js", b"Range: " + value))

    assert status in (200, 206, 416)
