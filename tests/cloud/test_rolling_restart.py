"""A rolling restart behind a real load balancer: nothing fails, nothing is lost.

Two `studylens-cloud serve` processes (one worker each) on the test PostgreSQL and S3 server sit
behind HAProxy (Debian's package) on loopback, which checks `GET /readyz` and retries a request
on another server when a connection fails or a backend hangs up without an answer. Linked edges
send sync batches and students sign in through it while one API process is stopped (SIGTERM,
exit status 0) and started again on the same port. Every request must succeed and every item of
every batch must be in PostgreSQL.

HAProxy may send a POST again after the backend received it (the connection closed before the
answer came back). That is safe here only because both requests of the load are idempotent: a
sync batch upserts its facts by the ids the edge made (a replay answers `unchanged`), and a
sign-in upserts the user by Google `sub`, its only other effect being one more refresh token
family nobody holds, which expires. The user count proves no sign-in made a second account.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from cloud.db.models import StudySession, User
from tests.cloud.support import (
    CloudProcess,
    cloud_env,
    count_rows,
    end_process,
    exit_status,
    free_port,
    link_device,
    running_cloud,
    serve_process,
    session_item,
    sign_in,
    wait_until_ready,
)
from tests.fakes.google import FakeGoogle

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(HAPROXY), reason="HAProxy is not installed"),
    pytest.mark.timeout(240),
]

#: Concurrent clients of the load: edges sending batches, students signing in now and then.
CLIENTS = 4
BATCH_ITEMS = 20
#: Requests answered after the restarted process is back in rotation before the load stops.
AFTER_RESTART = 40


def haproxy_config(port: int, servers: list[str], *, redispatch: bool = True) -> str:
    """Round robin over `servers` (host:port), health checked on /readyz every 200 ms.

    Two failed checks take a server out, two good ones bring it back; a check may take 5 s (a
    busy test machine). Only health checks are logged. `X-Served-By` names the server that
    answered.
    """
    retries = (
        "    retries 3\n"
        "    option redispatch 1\n"
        "    retry-on conn-failure empty-response response-timeout\n"
        if redispatch
        else "    retries 0\n"
    )
    lines = "".join(
        f"    server s{number} {address} check\n" for number, address in enumerate(servers, 1)
    )
    return (
        "global\n"
        "    log stderr format raw local0 info\n"
        "defaults\n"
        "    mode http\n"
        "    log global\n"
        "    option log-health-checks\n"
        "    timeout connect 1s\n"
        "    timeout check 5s\n"
        "    timeout client 30s\n"
        "    timeout server 20s\n"
        f"{retries}"
        "frontend api\n"
        f"    bind 127.0.0.1:{port}\n"
        "    no log\n"
        "    default_backend cloud\n"
        "backend cloud\n"
        "    balance roundrobin\n"
        "    option httpchk GET /readyz\n"
        "    http-check expect status 200\n"
        "    default-server inter 200ms fall 2 rise 2\n"
        "    http-response set-header X-Served-By %s\n"
        f"{lines}"
    )


@dataclass
class Balancer:
    """A running HAProxy and the file its log lines go to."""

    base_url: str
    log: Path

    def lines(self) -> str:
        """Everything it logged so far."""
        return self.log.read_text(errors="replace")

    async def until_logged(self, text: str, start: int = 0) -> int:
        """Wait (at most 60 s) for `text` in the log after offset `start`; where it ends."""
        for _ in range(600):
            found = self.lines().find(text, start)
            if found >= 0:
                return found + len(text)
            await asyncio.sleep(0.1)
        raise AssertionError(f"HAProxy never logged {text!r}:\n{self.lines()[start:]}")


@asynccontextmanager
async def haproxy(
    tmp_path: Path, servers: list[CloudProcess], **options: Any
) -> AsyncIterator[Balancer]:
    """HAProxy in the foreground in front of `servers`, stopped however the test ends."""
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        haproxy_config(port, [s.base_url.removeprefix("http://") for s in servers], **options)
    )
    log = tmp_path / "haproxy.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: ASYNC220 - started before any load runs
            [HAPROXY, "-f", str(config), "-db"], stderr=output
        )
    try:
        balancer = Balancer(f"http://127.0.0.1:{port}", log)
        for number in range(1, len(servers) + 1):
            await balancer.until_logged(f"Health check for server cloud/s{number} succeeded")
        yield balancer
    finally:
        end_process(process, timeout=10)


@dataclass
class Load:
    """What the clients sent and what came back."""

    sent_items: list[str] = field(default_factory=list)
    subs: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    served_by: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def record(self, what: str, response: httpx.Response) -> None:
        """Count one answer; anything but a 2xx is a failure."""
        if not response.is_success:
            self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")
        async with self.answered:
            self.served_by.append(response.headers.get("x-served-by", "?"))
            self.answered.notify_all()

    async def until(self, check: Callable[[list[str]], bool]) -> None:
        """Wait until `check(served_by)` holds, or a failure happened."""
        async with self.answered:
            await self.answered.wait_for(lambda: check(self.served_by) or bool(self.failures))


async def client_load(
    number: int, base_url: str, google: FakeGoogle, token: str, load: Load
) -> None:
    """One edge: sync batches of new facts; every fourth request a student signs in."""
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    round_ = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        while not load.stop.is_set():
            round_ += 1
            try:
                if round_ % 4 == 0:
                    sub = f"student-{number}-{round_ % 12}"
                    load.subs.add(sub)
                    response = await client.post(
                        "/api/auth/google",
                        json={"idToken": google.token(sub, f"{sub}@example.com")},
                    )
                    client.cookies.clear()
                    await load.record("sign-in", response)
                    continue
                items = [
                    session_item(start + timedelta(minutes=round_ * BATCH_ITEMS + n))
                    for n in range(BATCH_ITEMS)
                ]
                load.sent_items.extend(item["id"] for item in items)
                response = await client.post(
                    "/api/sync/batch",
                    json={"items": items},
                    headers={"Authorization": f"Bearer {token}"},
                )
                await load.record("batch", response)
                if response.is_success and response.json()["data"]["rejected"]:
                    load.failures.append(f"batch rejected items: {response.text[:300]}")
            except httpx.TransportError as exc:
                load.failures.append(f"transport: {type(exc).__name__}: {exc}")
                async with load.answered:
                    load.answered.notify_all()


async def restart(
    server: CloudProcess, balancer: Balancer, env: dict[str, str], log: IO[str], *, drain: bool
) -> None:
    """Stop `server` as a deploy does, start it again on its port, wait until it is back.

    With a drain: SIGTERM, then wait until HAProxy took it out on its 503 /readyz, then a second
    SIGTERM ends the drain (as the load balancer's deregistration delay does). Without: one
    SIGTERM, the socket closes at once and HAProxy's retries cover the gap.
    """
    mark = len(balancer.lines())
    server.process.terminate()
    if drain:
        refused = "Health check for server cloud/s1 failed, reason: Layer7 wrong status, code: 503"
        await balancer.until_logged(
            "Server cloud/s1 is DOWN", await balancer.until_logged(refused, mark)
        )
        server.process.terminate()
    assert await exit_status(server.process) == 0
    port = int(server.base_url.rsplit(":", 1)[1])
    server.process = serve_process(env, port, stderr=log).process  # cleaned up by running_cloud
    await wait_until_ready(server.base_url, server.process)
    await balancer.until_logged("Server cloud/s1 is UP", mark)


@pytest.mark.parametrize("drain", [True, False], ids=["readyz-drain", "no-drain-retries"])
async def test_restart_under_load_fails_nothing_and_loses_nothing(
    pg_database_url: str,
    live_google: FakeGoogle,
    s3_settings: dict[str, Any],
    tmp_path: Path,
    drain: bool,
) -> None:
    """One of two API processes restarted mid-load: every answer 2xx, every item stored."""
    env = cloud_env(
        tmp_path / "cloud",
        live_google,
        s3_settings,
        database_url=pg_database_url,
        jwt_secret="shared-secret-of-both-processes-0123456789",  # noqa: S106 - test-only
        shutdown_drain_seconds=60 if drain else 0,
        shutdown_grace_seconds=30,
    )
    with (tmp_path / "serve.log").open("w") as serve_log:
        async with (
            running_cloud(env, processes=2, stderr=serve_log) as servers,
            haproxy(tmp_path, servers) as balancer,
        ):
            tokens = []
            async with httpx.AsyncClient(base_url=balancer.base_url) as setup:
                for number in range(CLIENTS):
                    student = await sign_in(setup, live_google, sub=f"owner-{number}")
                    tokens.append(
                        (await link_device(setup, student, f"edge {number}"))["accessToken"]
                    )
            load = Load(subs={f"owner-{number}" for number in range(CLIENTS)})
            clients = [
                asyncio.create_task(client_load(n, balancer.base_url, live_google, t, load))
                for n, t in enumerate(tokens)
            ]
            try:
                await load.until(lambda served: served.count("s1") >= 10)
                await restart(servers[0], balancer, env, serve_log, drain=drain)
                after = len(load.served_by)
                await load.until(
                    lambda served: len(served) >= after + AFTER_RESTART and "s1" in served[after:]
                )
            finally:
                load.stop.set()
                await asyncio.gather(*clients)
    assert load.failures == []
    assert len(load.sent_items) == len(set(load.sent_items))
    stored = await count_rows(pg_database_url, StudySession, load.sent_items)
    assert stored == len(load.sent_items)
    assert await count_rows_of_users(pg_database_url) == len(load.subs)


async def count_rows_of_users(database_url: str) -> int:
    """How many accounts exist."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as db:
            return int(await db.scalar(select(func.count()).select_from(User)) or 0)
    finally:
        await engine.dispose()
