"""Helpers for cloud tests: envelopes, sign-in, linking a device, sync items."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from shared.auth import DeviceCode
from shared.clock import Clock
from tests.fakes.google import CLIENT_ID, FakeGoogle


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


def card_item(
    session_id: str,
    topic: str,
    created: datetime,
    *,
    revision: int = 0,
    item_id: str | None = None,
    **payload: Any,
) -> dict[str, Any]:
    """A new review card (learning, step 0, due at once, never graded)."""
    return {
        "id": item_id or str(uuid.uuid4()),
        "kind": "card",
        "revision": revision,
        "payload": {
            "sessionId": session_id,
            "topic": topic,
            "kind": "qa",
            "question": "What does mitosis make?",
            "answer": "Two identical cells",
            "maker": "on-device",
            "createdAt": iso(created),
            "state": "learning",
            "step": 0,
            "due": iso(created),
        }
        | payload,
    }


def graded(reviewed: datetime, days: float = 2.0) -> dict[str, Any]:
    """The schedule a `good` grade at `reviewed` leaves: in review, due `days` later."""
    return {
        "state": "review",
        "step": None,
        "stability": days,
        "difficulty": 5.2,
        "due": iso(reviewed + timedelta(days=days)),
        "lastReview": iso(reviewed),
    }


def review_item(
    card_id: str, reviewed: datetime, rating: str = "good", **payload: Any
) -> dict[str, Any]:
    """One grade of a card, with the schedule it left."""
    return {
        "id": str(payload.pop("id", uuid.uuid4())),
        "kind": "review_log",
        "revision": 0,
        "payload": {
            "cardId": card_id,
            "rating": rating,
            "reviewedAt": iso(reviewed),
            "reviewDurationMs": 4200,
        }
        | graded(reviewed)
        | payload,
    }


# --- the API in its own processes, as deployed -----------------------------------------------


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class CloudProcess:
    """One `studylens-cloud serve` process."""

    base_url: str
    process: subprocess.Popen[bytes]


async def wait_until_ready(
    base_url: str, process: subprocess.Popen[bytes], path: str = "/readyz"
) -> None:
    """Poll `path` until it answers (at most 30 s), failing early if the process died."""
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
            try:
                if (await client.get(f"{base_url}{path}")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{base_url} did not become ready")


def serve_process(
    env: dict[str, str], port: int, *, workers: int = 1, stderr: IO[str] | None = None
) -> CloudProcess:
    """Start one `studylens-cloud serve` on loopback `port` (not waiting for it to be ready).

    `stderr` receives its log lines (default: the test's own stderr).
    """
    command = str(Path(sys.executable).parent / "studylens-cloud")
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STUDYLENS_CLOUD_") and key != "STATE_DIRECTORY"
    }
    process = subprocess.Popen(
        [
            command,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=base_env | {"STUDYLENS_CLOUD_LOG_LEVEL": "warning"} | env,
        stderr=stderr,
    )
    return CloudProcess(f"http://127.0.0.1:{port}", process)


def end_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds; reaped either way."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def exit_status(process: subprocess.Popen[bytes], within: float = 60) -> int:
    """Wait off the loop for `process` to end (at most `within` seconds); its exit status."""
    return await asyncio.to_thread(process.wait, within)


@asynccontextmanager
async def running_cloud(
    env: dict[str, str],
    *,
    processes: int = 1,
    workers: int = 1,
    port: int | None = None,
    stderr: IO[str] | None = None,
) -> AsyncIterator[list[CloudProcess]]:
    """Start `processes` separate `studylens-cloud serve` processes sharing `env`'s settings.

    `port` fixes the first one's port: a cloud started again there is the same URL to an edge.
    `stderr` receives their log lines (default: the test's own stderr). Whatever is still
    running at the end is stopped.
    """
    started: list[CloudProcess] = []
    try:
        for number in range(processes):
            chosen = port if port is not None and number == 0 else free_port()
            started.append(serve_process(env, chosen, workers=workers, stderr=stderr))
        for server in started:
            await wait_until_ready(server.base_url, server.process)
        yield started
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.terminate()
        for server in started:
            end_process(server.process)


async def link_edge(
    cloud_url: str, google: FakeGoogle, data_dir: Path, clock: Clock
) -> dict[str, Any]:
    """Sign a student in and link the edge whose data dir is `data_dir`; the student's tokens.

    Runs the real device code flow: the edge polls while the student approves elsewhere.
    """
    from edge.sync.client import link_device
    from edge.sync.credentials import CredentialStore

    async with httpx.AsyncClient(base_url=cloud_url) as http:
        signed = await http.post("/api/auth/google", json={"idToken": google.token()})
        student: dict[str, Any] = data_of(signed)
        http.cookies.clear()
        approvals: list[asyncio.Task[httpx.Response]] = []

        def approve_later(code: DeviceCode) -> None:
            approval = http.post(
                "/api/devices/approve",
                json={"userCode": code.user_code},
                headers=bearer(student["accessToken"]),
            )
            approvals.append(asyncio.get_running_loop().create_task(approval))

        async def poll_soon(_: float) -> None:
            await asyncio.sleep(1.0)

        store = CredentialStore(data_dir)
        await link_device(http, cloud_url, "test edge", store, clock, approve_later, poll_soon)
        data_of(await approvals[0])
    return student


def cloud_env(
    data_dir: Path, google: FakeGoogle, s3: dict[str, Any] | None = None, **settings: Any
) -> dict[str, str]:
    """Settings for a `studylens-cloud serve` process, as environment variables.

    Its data dir and Google's keys; optionally the S3 overrides of the `s3_settings` fixture;
    any other setting by name.
    """
    env = {
        "STUDYLENS_CLOUD_DATA_DIR": str(data_dir),
        "STUDYLENS_CLOUD_GOOGLE_CLIENT_IDS": CLIENT_ID,
        "STUDYLENS_CLOUD_GOOGLE_JWKS_URL": google.jwks_url,
    }
    for name, value in {**(s3 or {}), **settings}.items():
        plain = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[f"STUDYLENS_CLOUD_{name.upper()}"] = str(plain)
    return env


async def count_rows(database_url: str, table: Any, ids: list[str]) -> int:
    """How many rows of `table` (a model with an `id`) have one of `ids`, read from the database."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as db:
            found = await db.scalar(
                select(func.count()).select_from(table).where(table.id.in_(ids))
            )
            return int(found or 0)
    finally:
        await engine.dispose()
