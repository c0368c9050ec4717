"""The API as deployed: `studylens-cloud serve` processes, embedded or sharing PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h11
import httpx
import pytest

from cloud.db.models import StudySession
from tests.cloud.support import (
    cloud_env,
    count_rows,
    data_of,
    exit_status,
    link_device,
    running_cloud,
    session_item,
    sign_in,
)
from tests.fakes.google import FakeGoogle


async def test_serve_with_nothing_configured_runs_embedded(tmp_path: Path) -> None:
    """`serve` with only a data dir runs on SQLite and a folder, with a private JWT secret."""
    data = tmp_path / "cloud"
    async with (
        running_cloud({"STUDYLENS_CLOUD_DATA_DIR": str(data)}) as [server],
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        ready = data_of(await client.get("/readyz"))
        code = data_of(await client.post("/api/devices/code", json={"name": "Pi"}))
    assert ready["checks"] == {"database": "ok", "objects": "ok"}
    assert code["verificationUri"] == f"{server.base_url}/device"
    assert (data / "cloud.db").is_file()
    assert (data / "objects").is_dir()
    assert stat.S_IMODE((data / "jwt-secret").stat().st_mode) == 0o600


def shared_env(
    database_url: str, google: FakeGoogle, tmp_path: Path, grace: float
) -> dict[str, str]:
    """Environment for servers sharing one PostgreSQL, JWT secret and refresh grace."""
    return cloud_env(
        tmp_path / "cloud",
        google,
        database_url=database_url,
        jwt_secret="shared-secret-of-both-processes-0123456789",  # noqa: S106 - test-only
        refresh_grace_seconds=grace,
    )


async def race_refreshes(bases: list[str], google: FakeGoogle, copies: int) -> list[httpx.Response]:
    """Sign in, then send `copies` refreshes of one token at once, spread over the servers."""
    async with httpx.AsyncClient() as client:
        signed = await client.post(f"{bases[0]}/api/auth/google", json={"idToken": google.token()})
        token = data_of(signed)["refreshToken"]
        return await asyncio.gather(
            *(
                client.post(
                    f"{bases[i % len(bases)]}/api/auth/refresh", json={"refreshToken": token}
                )
                for i in range(copies)
            )
        )


async def test_parallel_refresh_on_two_processes_lets_exactly_one_through(
    pg_database_url: str, live_google: FakeGoogle, tmp_path: Path
) -> None:
    """Without grace, concurrent refreshes across two processes let exactly one through."""
    env = shared_env(pg_database_url, live_google, tmp_path, grace=0)
    async with running_cloud(env, processes=2) as servers:
        answers = await race_refreshes([s.base_url for s in servers], live_google, 6)
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401, 401]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 401} == {"invalid_grant"}


async def test_parallel_refresh_on_two_processes_rotates_once_within_grace(
    pg_database_url: str, live_google: FakeGoogle, tmp_path: Path
) -> None:
    """With grace, concurrent refreshes across two processes all get the same successor."""
    env = shared_env(pg_database_url, live_google, tmp_path, grace=30)
    async with running_cloud(env, processes=2) as servers:
        answers = await race_refreshes([s.base_url for s in servers], live_google, 6)
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["data"]["refreshToken"] for a in answers}) == 1


# --- stopping: drain, requests in flight, exit status ---------------------------------------


class HeldUpload:
    """A sync batch whose body is held back, sent as curl sends big ones (`Expect: 100-continue`).

    The server's `100 Continue` proves the request is in flight: uvicorn parsed it and the route
    is waiting for the body. A slow upload from a far edge looks the same to the server.
    """

    def __init__(self, base_url: str, token: str, items: list[dict[str, Any]]) -> None:
        self.address = httpx.URL(base_url)
        self.token = token
        self.body = json.dumps({"items": items}).encode()
        self.http = h11.Connection(h11.CLIENT)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        """Send the headers and wait for `100 Continue`."""
        host, port = self.address.host, self.address.port
        assert port is not None
        self.reader, self.writer = await asyncio.open_connection(host, port)
        request = h11.Request(
            method="POST",
            target="/api/sync/batch",
            headers=[
                ("Host", f"{host}:{port}"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(self.body))),
                ("Expect", "100-continue"),
                ("Authorization", f"Bearer {self.token}"),
            ],
        )
        self.writer.write(self.http.send(request) or b"")
        await self.writer.drain()
        informational = await self._next()
        assert isinstance(informational, h11.InformationalResponse), informational
        assert informational.status_code == 100

    async def finish(self) -> tuple[h11.Response, bytes]:
        """Send the body; the response and its body."""
        assert self.writer is not None
        self.writer.write(self.http.send(h11.Data(data=self.body)) or b"")
        self.writer.write(self.http.send(h11.EndOfMessage()) or b"")
        await self.writer.drain()
        response = await self._next()
        assert isinstance(response, h11.Response), response
        body = b""
        while not isinstance(event := await self._next(), h11.EndOfMessage):
            assert isinstance(event, h11.Data), event
            body += event.data
        return response, body

    async def answer_without_body(self) -> h11.Response | None:
        """What the server says while the body never comes: a response, or None if it hangs up."""
        try:
            event = await self._next()
        except (h11.RemoteProtocolError, ConnectionError):
            return None
        assert isinstance(event, h11.Response), event
        return event

    async def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()

    async def _next(self) -> object:
        assert self.reader is not None
        while (event := self.http.next_event()) is h11.NEED_DATA:
            self.http.receive_data(await asyncio.wait_for(self.reader.read(65536), 60))
        return event


def worker_pids(process: subprocess.Popen[bytes], workers: int) -> list[int]:
    """The processes that serve: `process` itself, or the workers it spawned."""
    if workers == 1:
        return [process.pid]
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, not ")".
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            pid = int(stat_file.parent.name)
            cmdline = (stat_file.parent / "cmdline").read_bytes()
            if int(fields[1]) == process.pid and b"spawn_main" in cmdline:
                found.append(pid)
    assert len(found) == workers, found
    return found


async def readyz_status(base_url: str) -> int | None:
    """The status of one /readyz on a new connection; None if it is refused or cut unanswered.

    A server in its last moments may accept the connection and close it without an answer.
    """
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{base_url}/readyz")).status_code
    except (httpx.ConnectError, httpx.RemoteProtocolError):
        return None


async def until(check: Any, want: object, what: str) -> None:
    """Poll `check()` until it returns `want` (at most 30 s)."""
    for _ in range(300):
        if await check() == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never {what}")


async def edge_token(base_url: str, google: FakeGoogle) -> str:
    """Sign a student in and link an edge; the edge's sync access token."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        student = await sign_in(client, google)
        edge: dict[str, Any] = await link_device(client, student)
    token: str = edge["accessToken"]
    return token


def sessions(count: int) -> list[dict[str, Any]]:
    """`count` session facts."""
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    return [session_item(start + timedelta(minutes=n)) for n in range(count)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("workers", "stop"),
    [(1, signal.SIGTERM), (2, signal.SIGTERM), (1, signal.SIGINT)],
    ids=["one-process-sigterm", "two-workers-sigterm", "one-process-sigint"],
)
async def test_stop_signal_drains_and_lets_the_upload_in_flight_finish(
    pg_database_url: str,
    live_google: FakeGoogle,
    tmp_path: Path,
    workers: int,
    stop: signal.Signals,
) -> None:
    """A stop signal: /readyz 503 at once, then the socket closes, the upload finishes, exit 0.

    The drain is long; a second signal to the serving processes ends it, as a second Ctrl+C
    does, so nothing here waits on a clock.
    """
    env = cloud_env(
        tmp_path / "cloud",
        live_google,
        database_url=pg_database_url,
        shutdown_drain_seconds=120,
        shutdown_grace_seconds=60,
    )
    items = sessions(300)
    async with running_cloud(env, workers=workers) as [server]:
        upload = HeldUpload(server.base_url, await edge_token(server.base_url, live_google), items)
        try:
            await upload.start()
            server.process.send_signal(stop)
            await until(lambda: readyz_status(server.base_url), 503, "draining")
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                assert data_of(await client.get("/healthz"))["status"] == "ok"
            for pid in worker_pids(server.process, workers):
                os.kill(pid, stop)
            await until(lambda: readyz_status(server.base_url), None, "refusing connections")
            response, body = await upload.finish()
        finally:
            await upload.close()
        assert await exit_status(server.process) == 0
    assert response.status_code == 200, body
    assert (b"connection", b"close") in response.headers
    assert json.loads(body)["data"]["stored"] == len(items)
    assert await count_rows(pg_database_url, StudySession, [i["id"] for i in items]) == len(items)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
async def test_an_upload_still_running_at_the_deadline_is_cut_and_the_process_exits(
    pg_database_url: str, live_google: FakeGoogle, tmp_path: Path, workers: int
) -> None:
    """Past `shutdown_grace_seconds` the request is cancelled, and the process still exits 0.

    uvicorn logs the cancellation and answers a plain 500 if it still can; nothing of the
    batch is stored (its transaction never committed).
    """
    env = cloud_env(
        tmp_path / "cloud", live_google, database_url=pg_database_url, shutdown_grace_seconds=1
    )
    log = tmp_path / "serve.log"
    items = sessions(50)
    with log.open("w") as lines:
        async with running_cloud(env, workers=workers, stderr=lines) as [server]:
            token = await edge_token(server.base_url, live_google)
            upload = HeldUpload(server.base_url, token, items)
            try:
                await upload.start()
                server.process.terminate()
                assert await exit_status(server.process) == 0
                answer = await upload.answer_without_body()
            finally:
                await upload.close()
    assert answer is None or answer.status_code == 500
    assert "Cancel 1 running task(s), timeout graceful shutdown exceeded" in log.read_text()
    assert await count_rows(pg_database_url, StudySession, [i["id"] for i in items]) == 0
