"""Helpers the tests import: a hand-driven clock, local-time parsing, typed test clients."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse, FormData, web
from aiohttp.test_utils import TestClient, TestServer

from edge import pairing
from edge.http.context import SERVICES, Services
from edge.http.server import EdgeRunner
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings
from edge.store import open_database
from edge.topics.tracker import FrameFlags
from shared.logs import JsonFormatter

#: A zone with an offset and DST, so local midnight is never UTC midnight.
ZONE_NAME = "Europe/Berlin"
ZONE: tzinfo = ZoneInfo(ZONE_NAME)


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        """Return the current fake time."""
        return self.current

    def advance(self, seconds: float) -> datetime:
        """Move time forward and return the new now."""
        self.current += timedelta(seconds=seconds)
        return self.current


def berlin(text: str) -> datetime:
    """Parse local Berlin wall-clock time (`2026-11-25 10:00`) into aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(UTC)


AppClient = TestClient[web.Request, web.Application]
#: Opens a session service on a test's database (the `open_service` fixture); again = a restart.
OpenService = Callable[[], Awaitable[SessionService]]


class EdgeTestServer(TestServer):
    """aiohttp's test server, serving through the daemon's own runner and its options."""

    async def _make_runner(self, **kwargs: Any) -> EdgeRunner:
        settings = self.app[SERVICES].settings
        kwargs["handler_cancellation"] = False  # as the daemon runs: accepted work finishes
        return EdgeRunner(
            self.app,
            max_connections_per_client=settings.limits.max_connections_per_client,
            **kwargs,
        )


StartApp = Callable[..., Awaitable[AppClient]]


def services_of(client: AppClient) -> Services:
    """Reach the wired services of the app behind a test client."""
    return client.app[SERVICES]


def metrics_text(client: AppClient) -> str:
    """What /metrics shows the owner (phones may not read it), read from the app itself."""
    return services_of(client).metrics.exposition().decode()


ACTIVE = FrameFlags(active=True, distracted=False)


async def data_of(response: ClientResponse, status: int = 200) -> Any:
    """Return the `data` of a success envelope, checking the status first."""
    body = await response.json()
    assert response.status == status, body
    assert body["success"] is True, body
    return body["data"]


async def error_of(response: ClientResponse, status: int) -> Any:
    """Return the `error` of a failure envelope, checking the status first."""
    body = await response.json()
    assert response.status == status, body
    assert body["success"] is False, body
    return body["error"]


async def start_session(client: AppClient) -> str:
    """Start a session over HTTP and return its id."""
    return str((await data_of(await client.post("/api/session/start"), 201))["sessionId"])


async def track(client: AppClient, clock: FakeClock, session_id: str, topic: str) -> None:
    """Record one active frame showing `topic` at the clock's now."""
    await services_of(client).sessions.track(session_id, topic, clock.now(), ACTIVE)


def durations(data: Any) -> list[tuple[str, int]]:
    """Return `(topic, durationSeconds)` pairs of a `topicStats` list, in order."""
    return [(stat["topic"], stat["durationSeconds"]) for stat in data["topicStats"]]


def form(data: bytes, field: str = "image", filename: str = "frame.jpg") -> FormData:
    """A multipart form holding one file."""
    body = FormData()
    body.add_field(field, io.BytesIO(data), filename=filename, content_type="image/jpeg")
    return body


async def upload(client: AppClient, data: bytes, session_id: str | None = None) -> Any:
    """Post a frame and return the success `data`."""
    headers = {"X-Session-Id": session_id} if session_id else {}
    return await data_of(
        await client.post("/api/upload-and-analyze", data=form(data), headers=headers)
    )


def pair_device(settings: EdgeSettings, name: str = "test phone") -> str:
    """Pair a device straight in the data dir, as `studylens-edge pair` + the phone would."""
    db = open_database(settings.database_path)
    try:
        now = datetime.now(UTC)
        code = pairing.new_code(db, now, timedelta(minutes=5))
        return pairing.redeem(db, code.code, name, now).token
    finally:
        db.close()


#: Header through which a test says which address its request comes from (`peer_header=True`).
PEER_HEADER = "X-Test-Peer"


@web.middleware
async def peer_from_header(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Test-only: let a request claim another peer address, e.g. a phone on the LAN."""
    peer = request.headers.get(PEER_HEADER)
    return await handler(request.clone(remote=peer) if peer else request)


async def raw_exchange(client: AppClient, request: bytes, within: float = 10.0) -> bytes:
    """Send bytes as they are (no client library to tidy them) and read until the server closes.

    Requests should say `Connection: close`, so the server ends the exchange after one answer.
    """
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(within):
            return await reader.read()
    finally:
        writer.close()


def parse_answer(raw: bytes) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-case names) and JSON body (None if not JSON) of a raw answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    if "chunked" in headers.get("transfer-encoding", ""):
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    try:
        return status, headers, json.loads(body)
    except ValueError:
        return status, headers, None


class LogLine(logging.Handler):
    """Sets `seen` once logger `name` emits a record containing `text` (a `with` block)."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.logger = logging.getLogger(name)
        self.text = text
        self.seen = asyncio.Event()

    def __enter__(self) -> LogLine:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Watch one record."""
        if self.text in record.getMessage():
            self.seen.set()


def authorized(token: str) -> dict[str, str]:
    """The header a paired device sends."""
    return {"Authorization": f"Bearer {token}"}


def typer_commands(root: str, app: Any) -> list[tuple[str, Any]]:
    """Every command and sub-command of a typer app, with its full name."""
    import typer.main
    from typer.core import TyperGroup

    found: list[tuple[str, Any]] = []
    pending: list[tuple[str, Any]] = [(root, typer.main.get_command(app))]
    while pending:
        name, command = pending.pop()
        found.append((name, command))
        if isinstance(command, TyperGroup):
            pending.extend((f"{name} {sub}", cmd) for sub, cmd in command.commands.items())
    return found


def commands_without_help(root: str, app: Any) -> list[str]:
    """Commands of a typer app whose --help would say nothing about them."""
    return [name for name, cmd in typer_commands(root, app) if not (cmd.help or "").strip()]


def options_without_help(root: str, app: Any) -> list[str]:
    """Options of a typer app's commands whose --help would say nothing about them."""
    return [
        f"{name} --{param.name}"
        for name, command in typer_commands(root, app)
        for param in command.params
        if param.param_type_name == "option" and not (param.help or "").strip()
    ]


class JsonLines(logging.Handler):
    """A logger's records as the JSON handler writes them, kept; await one request's lines."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []
        self.added = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record as the JSON it would be written as."""
        self.lines.append(json.loads(self.format(record)))
        self.added.set()  # the servers under test log on the test's own loop

    def of(self, request_id: str) -> list[dict[str, Any]]:
        """The lines of one request."""
        return [line for line in self.lines if line.get("requestId") == request_id]

    async def wait_for(self, request_id: str) -> list[dict[str, Any]]:
        """The lines of one request, once it has been logged."""
        while not (found := self.of(request_id)):
            self.added.clear()
            await self.added.wait()
        return found


@contextmanager
def json_lines(logger: str, level: int) -> Iterator[JsonLines]:
    """Every line `logger` writes at `level` or above while the block runs."""
    handler = JsonLines()
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(level)
    try:
        yield handler
    finally:
        target.removeHandler(handler)
        target.setLevel(logging.NOTSET)
