"""Nothing secret in logs (issue 17, item 6): every log line of both sides, at DEBUG, searched.

The daemon (`studylens-edge serve`), the cloud (`studylens-cloud serve`, embedded: SQLite and the
object folder) and the edge's commands (`pair`, `link`, `sync now`) run as their own processes
with logging at DEBUG and their stdout and stderr kept. The test walks them through pairing (a
code from the command and one from the owner's route, a wrong code, the right ones), frames (an
upload analysed by the fake OpenAI peer), voice (`WS /ws?token=` to the fake Realtime peer), the
live events (`GET /api/events?token=`), sign-in with Google and a refresh, the device code flow
(by hand and by `studylens-edge link`), and sync (the daemon's worker and `sync now`). Every
secret it made or was handed is then searched for in every line, as is any `token=` value.

What the commands print for the user on purpose (the pairing code of `pair`, the user code of
`link`) is their output, not a log line: only their stderr, where logging writes, is searched.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pytest

from tests.cloud.support import bearer, cloud_env, data_of, free_port, wait_until_ready
from tests.conftest import emptied_pg_database
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime
from tests.integration.logs_support import (
    LogFiles,
    clean_env,
    edge_cli_command,
    leaks,
    logged_process,
)

#: The whole walk, start-up and shutdown included, with room for a loaded machine.
WALK_SECONDS = 90


class Secrets:
    """Every secret value the test handled, by what it is."""

    def __init__(self) -> None:
        self.values: dict[str, set[str]] = {}

    def add(self, what: str, *values: str | None) -> None:
        """Remember values (empty ones are nothing to look for)."""
        self.values.setdefault(what, set()).update(v for v in values if v)


class Walk:
    """The processes of one test and what it learnt on the way."""

    def __init__(self, tmp_path: Path, logs: LogFiles, stack: ExitStack) -> None:
        self.tmp_path = tmp_path
        self.logs = logs
        self.stack = stack
        self.secrets = Secrets()
        self.edge_dir = tmp_path / "edge"
        self.edge_url = ""
        self.cloud_url = ""

    def edge_env(self, **values: str) -> dict[str, str]:
        """The daemon's and its commands' environment: DEBUG, loopback, no config file."""
        return clean_env(
            STUDYLENS_LOG_LEVEL="DEBUG",
            STUDYLENS_CONFIG="",
            STUDYLENS_MDNS="false",
            XDG_CONFIG_HOME=str(self.tmp_path / "xdg-config"),
            **values,
        )

    async def command(self, name: str, *args: str, within: float = 30) -> str:
        """Run `studylens-edge ARGS --data-dir EDGE` to its end; its stdout (stderr is a log)."""
        with self.logs.new(name).open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *edge_cli_command(*args, "--data-dir", str(self.edge_dir)),
                env=self.edge_env(),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        try:
            async with asyncio.timeout(within):
                out, _ = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, out.decode()
        return out.decode()


@asynccontextmanager
async def walk_in(tmp_path: Path) -> AsyncIterator[Walk]:
    """A walk whose processes are all gone when it ends, however it ends."""
    folder = tmp_path / "logs"
    folder.mkdir()
    with ExitStack() as stack:
        yield Walk(tmp_path, LogFiles(folder), stack)


@pytest.fixture(params=["embedded", "aws"])
async def cloud_backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the cloud keeps things: embedded (SQLite, a folder), or as deployed (PostgreSQL, S3).

    As deployed, both sides log JSON lines (`log_format`), which are searched the same way.

    The second needs the test services (`scripts/services.sh`), as the other cloud tests do.
    """
    if request.param == "embedded":
        return {}
    database_url = await emptied_pg_database(request.getfixturevalue("pg_template"))
    s3: dict[str, Any] = request.getfixturevalue("s3_settings")
    # As deployed, the logs are JSON for CloudWatch: the daemon's too, in this walk.
    return {"database_url": database_url, "log_format": "json", **s3}


async def start_cloud(walk: Walk, google: FakeGoogle, backend: dict[str, Any]) -> None:
    """`studylens-cloud serve` at DEBUG, the edge allowed to poll every second."""
    port = free_port()
    settings = {"device_poll_interval_seconds": 1, **backend}
    env = clean_env(
        **cloud_env(walk.tmp_path / "cloud", google, **settings),
        STUDYLENS_CLOUD_LOG_LEVEL="debug",
    )
    command = [str(Path(sys.executable).parent / "studylens-cloud"), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process = walk.stack.enter_context(logged_process(command, env, walk.logs.new("cloud")))
    walk.cloud_url = f"http://127.0.0.1:{port}"
    await wait_until_ready(walk.cloud_url, process)


async def start_daemon(
    walk: Walk, openai: FakeOpenAI, realtime: FakeRealtime, log_format: str
) -> None:
    """`studylens-edge serve` at DEBUG, its models the fake peers, syncing every half second."""
    port = free_port()
    api_key = f"sk-test-{secrets.token_hex(16)}"
    walk.secrets.add("OpenAI API key", api_key)
    env = walk.edge_env(
        STUDYLENS_OPENAI_API_KEY=api_key,
        STUDYLENS_OPENAI_BASE_URL=openai.base_url,
        STUDYLENS_REALTIME_URL=realtime.websocket_base_url,
        STUDYLENS_VISION_BACKEND="openai",
        STUDYLENS_SYNC_IDLE_SECONDS="0.5",
        STUDYLENS_LOG_FORMAT=log_format,
    )
    command = [str(Path(sys.executable).parent / "studylens-edge"), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(walk.edge_dir)]
    process = walk.stack.enter_context(logged_process(command, env, walk.logs.new("daemon")))
    walk.edge_url = f"http://127.0.0.1:{port}"
    await wait_until_ready(walk.edge_url, process, "/healthz")


async def pair_phones(walk: Walk, edge: httpx.AsyncClient) -> tuple[str, str]:
    """A code by `pair`, a wrong one, the right one; a code by the owner's route; two tokens."""
    by_command = json.loads(await walk.command("pair", "pair", "--json"))["code"]
    wrong = f"{(int(by_command) + 1) % 1_000_000:06d}"
    walk.secrets.add("pairing code", by_command, f"{by_command[:3]} {by_command[3:]}")
    walk.secrets.add("wrong pairing code", wrong, f"{wrong[:3]} {wrong[3:]}")
    refused = await edge.post("/api/pair", json={"code": wrong, "deviceName": "guesser"})
    assert refused.status_code in (400, 401, 403), refused.text
    phone = data_of(
        await edge.post("/api/pair", json={"code": by_command, "deviceName": "phone"}), 201
    )["token"]

    by_route = data_of(await edge.post("/api/pair/code"))["code"]
    walk.secrets.add("pairing code", by_route, f"{by_route[:3]} {by_route[3:]}")
    browser = data_of(
        await edge.post("/api/pair", json={"code": by_route, "deviceName": "browser"}), 201
    )["token"]
    walk.secrets.add("device token", phone, browser)
    return phone, browser


async def send_frame(edge: httpx.AsyncClient, token: str) -> str:
    """One frame, analysed by the fake model; the SHA-256 of its original."""
    answer = await edge.post(
        "/api/upload-and-analyze",
        files={"image": ("frame.jpg", jpeg(640, 480, seed=7), "image/jpeg")},
        headers=bearer(token),
    )
    key: str = data_of(answer)["imageKey"]
    return key.split(".")[0]


async def view_image(
    walk: Walk, cloud: httpx.AsyncClient, student: dict[str, Any], sha: str
) -> None:
    """The student opens the synced original: a redirect to a presigned URL, then the bytes."""
    redirect = await cloud.get(f"/api/images/{sha}", headers=bearer(student["accessToken"]))
    assert redirect.status_code == 307, redirect.text
    location = httpx.URL(redirect.headers["location"])
    walk.secrets.add(
        "presigned URL signature",
        location.params.get("sig"),
        location.params.get("X-Amz-Signature"),
    )
    async with httpx.AsyncClient() as http:
        assert (await http.get(location)).status_code == 200


async def talk(walk: Walk, token: str) -> None:
    """A voice session with `?token=`: half a second of quiet audio to the model, `stop`."""
    audio = np.zeros(8_000, np.float32).tobytes()
    heard: list[str] = []
    async with aiohttp.ClientSession() as session:
        url = f"{walk.edge_url}/ws"
        async with session.ws_connect(url, params={"token": token}) as ws:
            await ws.send_json({"type": "start"})
            assert (await ws.receive_json(timeout=10))["type"] == "ready"
            for start in range(0, len(audio), 1_280):
                await ws.send_bytes(audio[start : start + 1_280])
            await ws.send_json({"type": "stop"})
            async with asyncio.timeout(10):
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        heard.append(json.loads(message.data)["type"])
                    if heard[-1:] == ["closing"]:
                        break  # as a phone does: the daemon closes its Realtime link meanwhile
    assert heard[-1:] == ["closing"], heard


async def watch_events(edge: httpx.AsyncClient, token: str) -> None:
    """The dashboard's live events with `?token=`, as a browser's EventSource opens them."""
    async with edge.stream("GET", "/api/events", params={"token": token}) as stream:
        assert stream.status_code == 200


async def sign_in(walk: Walk, cloud: httpx.AsyncClient, google: FakeGoogle) -> dict[str, Any]:
    """Google sign-in, then a refresh; the student's newest token pair."""
    id_token = google.token()
    walk.secrets.add("Google ID token", id_token)
    signed = await cloud.post("/api/auth/google", json={"idToken": id_token})
    first: dict[str, Any] = data_of(signed)
    walk.secrets.add("access token", first["accessToken"], *signed.cookies.values())
    walk.secrets.add("refresh token", first["refreshToken"])
    cloud.cookies.clear()
    refreshed = await cloud.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
    pair: dict[str, Any] = data_of(refreshed)
    walk.secrets.add("access token", pair["accessToken"], *refreshed.cookies.values())
    walk.secrets.add("refresh token", pair["refreshToken"])
    cloud.cookies.clear()
    return pair


async def link_by_hand(walk: Walk, cloud: httpx.AsyncClient, student: dict[str, Any]) -> None:
    """The device code flow as a client other than the edge runs it; every code remembered."""
    code = data_of(await cloud.post("/api/devices/code", json={"name": "Other Pi"}))
    walk.secrets.add("device code", code["deviceCode"])
    walk.secrets.add("user code", code["userCode"], code["userCode"].replace("-", ""))
    approved = await cloud.post(
        "/api/devices/approve",
        json={"userCode": code["userCode"]},
        headers=bearer(student["accessToken"]),
    )
    data_of(approved)
    pair = data_of(await cloud.post("/api/devices/token", json={"deviceCode": code["deviceCode"]}))
    walk.secrets.add("access token", pair["accessToken"])
    walk.secrets.add("refresh token", pair["refreshToken"])


async def link_by_command(walk: Walk, cloud: httpx.AsyncClient, student: dict[str, Any]) -> None:
    """`studylens-edge link` on the daemon's data dir; the student approves the code it shows."""
    with walk.logs.new("link").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *edge_cli_command(
                "link", walk.cloud_url, "--name", "Desk Pi", "--data-dir", str(walk.edge_dir)
            ),
            env=walk.edge_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    assert process.stdout is not None
    shown = []
    try:
        async with asyncio.timeout(30):
            async for raw in process.stdout:
                line = raw.decode().strip()
                shown.append(line)
                if len(line) == 9 and line[4] == "-":
                    walk.secrets.add("user code", line, line.replace("-", ""))
                    approved = await cloud.post(
                        "/api/devices/approve",
                        json={"userCode": line},
                        headers=bearer(student["accessToken"]),
                    )
                    data_of(approved)
            assert await process.wait() == 0, "\n".join(shown)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    saved = json.loads((walk.edge_dir / "cloud-link.json").read_text())
    walk.secrets.add("access token", saved["access_token"])
    walk.secrets.add("refresh token", saved["refresh_token"])


async def synced(walk: Walk, cloud: httpx.AsyncClient, student: dict[str, Any]) -> None:
    """The daemon's worker sends the session and the frame's original; then `sync now`.

    The daemon first, alone, so that it is the one to upload the original by its presigned URL.
    """
    for _ in range(200):
        listed = await cloud.get("/api/sessions", headers=bearer(student["accessToken"]))
        status = data_of(await cloud.get(f"{walk.edge_url}/api/sync/status"))
        if data_of(listed)["sessions"] and status["pendingImages"] == 0:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the daemon did not sync: {status}")
    assert "sent 0 facts" in await walk.command("sync-now", "sync", "now")


async def test_no_secret_reaches_a_log_line(
    live_google: FakeGoogle,
    openai_peer: FakeOpenAI,
    realtime_peer: FakeRealtime,
    cloud_backend: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Pairing, frames, voice, sign-in, link and sync at DEBUG: no secret in any line."""
    log_format = cloud_backend.get("log_format", "text")
    async with walk_in(tmp_path) as walk:
        async with asyncio.timeout(WALK_SECONDS):
            await asyncio.gather(
                start_cloud(walk, live_google, cloud_backend),
                start_daemon(walk, openai_peer, realtime_peer, log_format),
            )
            async with (
                httpx.AsyncClient(base_url=walk.edge_url, timeout=20) as edge,
                httpx.AsyncClient(base_url=walk.cloud_url, timeout=20) as cloud,
            ):
                phone, browser = await pair_phones(walk, edge)
                sha = await send_frame(edge, phone)
                await talk(walk, browser)
                await watch_events(edge, browser)
                student = await sign_in(walk, cloud, live_google)
                await link_by_hand(walk, cloud, student)
                await link_by_command(walk, cloud, student)
                await synced(walk, cloud, student)
                await view_image(walk, cloud, student, sha)
            walk.stack.close()  # both servers log their shutdown, which is searched too
    assert walk.logs.files["daemon"].stat().st_size > 0
    assert walk.logs.files["cloud"].stat().st_size > 0
    found = leaks(walk.secrets.values, walk.logs.lines())
    assert not found, "secrets in log lines:\n" + "\n".join(found)
    if log_format == "json":  # every line the two servers wrote is one JSON object
        for server in ("daemon", "cloud"):
            text = walk.logs.files[server].read_text().splitlines()
            assert [json.loads(line)["level"] for line in text if line.strip()], server


def test_the_search_finds_each_kind_of_leak() -> None:
    """The search itself: a value, a JWT's signature alone, a `token=`; a code inside a hash not."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJleHAiOjF9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    found = leaks(
        {"pairing code": {"123456"}, "access token": {jwt}},
        [
            ("daemon", "INFO edge: pairing with 123456"),
            ("daemon", "DEBUG x: signature c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"),
            ("cloud", 'GET /ws?token=abc HTTP/1.1" 101'),
            ("cloud", "stored image a123456b.jpg, 123456789 bytes"),
            ("cloud", "refresh_token=None"),
            ("daemon", "HTTP Request: PUT http://c/api/objects/k?expires=1&sig=0f3a"),
            ("daemon", "HTTP Request: PUT http://c/api/objects/k?[masked]"),
            ("cloud", "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=t, Signature=a'}"),
        ],
    )
    sources = [line.split(":")[0] for line in found]
    assert sources == ["daemon", "daemon", "cloud", "cloud", "daemon", "cloud"]
