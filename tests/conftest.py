"""Shared fixtures: clock, settings, the app under test, and the unhandled-error guard.

The guard fails any test that leaves an unhandled asyncio exception behind.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from edge.app import create_app
from edge.settings import EdgeSettings, load_settings
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import ZONE_NAME, AppClient, FakeClock, StartApp, authorized, berlin, pair_device


@pytest.fixture(autouse=True)
def no_unhandled_async_errors(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Fail the test if asyncio reported an exception nobody handled.

    This catches "Task exception was never retrieved" and errors in callbacks, which asyncio
    otherwise only logs.
    """
    seen: list[dict[str, Any]] = []
    original = asyncio.BaseEventLoop.default_exception_handler

    def record(self: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
        seen.append(context)
        original(self, context)

    monkeypatch.setattr(asyncio.BaseEventLoop, "default_exception_handler", record)
    yield
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        gc.collect()  # orphaned tasks report their exception only when collected
    assert not seen, f"unhandled asyncio errors: {[c.get('message') for c in seen]}"


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 10:00 Berlin time on a weekday."""
    return FakeClock(berlin("2026-11-25 10:00"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data dir for one test."""
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> EdgeSettings:
    """Settings isolated from the machine: no env vars, no config file, a fixed zone."""
    for name in ("STUDYLENS_CONFIG", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    # mDNS off: tests must not announce themselves on the machine's networks.
    return load_settings(data_dir=data_dir, timezone=ZONE_NAME, mdns=False)


@pytest.fixture
async def start_app(settings: EdgeSettings, clock: FakeClock) -> AsyncIterator[StartApp]:
    """Start the edge app on loopback; several may be started (and closed) in one test."""
    clients: list[AppClient] = []

    async def start(**overrides: Any) -> AppClient:
        effective = settings.model_copy(update=overrides) if overrides else settings
        token = pair_device(effective)
        client: AppClient = TestClient(
            TestServer(create_app(effective, clock)), headers=authorized(token)
        )
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def client(start_app: StartApp) -> AppClient:
    """A running edge app and an HTTP client for it."""
    return await start_app()


@pytest.fixture
async def openai_peer() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI Responses API on loopback."""
    peer = FakeOpenAI()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
async def vision_client(start_app: StartApp, openai_peer: FakeOpenAI) -> AppClient:
    """The edge app with its vision port pointed at the fake OpenAI peer."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_timeout_seconds=5,
    )


@pytest.fixture
async def realtime_peer() -> AsyncIterator[FakeRealtime]:
    """A fake OpenAI Realtime API on loopback; fails the test on any invalid client event."""
    peer = FakeRealtime()
    await peer.start()
    yield peer
    await peer.stop()
    peer.assert_valid()


@pytest.fixture
async def voice_client(start_app: StartApp, realtime_peer: FakeRealtime) -> AppClient:
    """The edge app with its voice tutor pointed at the fake Realtime peer."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        realtime_url=realtime_peer.websocket_base_url,
        voice_context_interval_seconds=0.0,
    )
