"""Shared fixtures: clock, settings, the app under test, and the unhandled-error guard.

The guard fails any test that leaves an unhandled asyncio exception behind.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import sqlite_utils
from aiohttp.test_utils import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from cloud.api.app import create_app as create_cloud_app
from cloud.db.migrate import upgrade_sync
from cloud.settings import CloudSettings
from edge.app import create_app
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings, load_settings
from edge.store import Store, open_database
from shared.clock import SystemClock
from tests.cloud.secrets_support import FakeSecretsManager, aws_environment
from tests.edge.voice.barge_in_support import Samples, Voices
from tests.fakes.google import CLIENT_ID, FakeGoogle
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import (
    ZONE,
    ZONE_NAME,
    AppClient,
    EdgeTestServer,
    FakeClock,
    OpenService,
    StartApp,
    authorized,
    berlin,
    pair_device,
    peer_from_header,
)

_ORIGINAL_HANDLER = asyncio.BaseEventLoop.default_exception_handler


def pytest_configure(config: pytest.Config) -> None:
    """Register the project's markers."""
    config.addinivalue_line(
        "markers", "postgresql_only: a cloud module whose tests need not repeat on SQLite"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the SQLite variant of cloud tests only for the core modules (auth, ingest, ...)."""
    items[:] = [
        item
        for item in items
        if not (
            item.get_closest_marker("postgresql_only")
            and getattr(item, "callspec", None) is not None
            and item.callspec.params.get("cloud_database_url") == "sqlite"  # type: ignore[attr-defined]
        )
    ]


@pytest.fixture(autouse=True, scope="session")
def no_unhandled_async_errors_at_all() -> Iterator[None]:
    """After the last test, a full collection; any error it surfaces fails the run.

    Each test collects only the young generations (a full collection costs ~0.2 s a test);
    this sweep catches an orphaned task that lived long enough to reach the oldest one.
    """
    seen: list[dict[str, Any]] = []

    def record(self: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
        seen.append(context)
        _ORIGINAL_HANDLER(self, context)

    asyncio.BaseEventLoop.default_exception_handler = record  # type: ignore[method-assign]
    yield
    gc.collect()
    asyncio.BaseEventLoop.default_exception_handler = _ORIGINAL_HANDLER  # type: ignore[method-assign]
    assert not seen, f"unhandled asyncio errors: {[c.get('message') for c in seen]}"


@pytest.fixture(autouse=True)
def no_unhandled_async_errors(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Fail the test if asyncio reported an exception nobody handled.

    This catches "Task exception was never retrieved" and errors in callbacks, which asyncio
    otherwise only logs.
    """
    seen: list[dict[str, Any]] = []

    def record(self: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
        seen.append(context)
        _ORIGINAL_HANDLER(self, context)

    monkeypatch.setattr(asyncio.BaseEventLoop, "default_exception_handler", record)
    yield
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        gc.collect(1)  # orphaned tasks report their exception only when collected
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
    # mDNS off: tests must not announce themselves on the machine's networks. Every test
    # client is on loopback, so the dashboard's localhost exemption is off unless a test
    # turns it on: tokens are what most tests are about.
    # The model backend, as before the on-device one existed: without a key, frames get 503;
    # the on-device analyser's tests ask for it.
    return load_settings(
        data_dir=data_dir,
        timezone=ZONE_NAME,
        mdns=False,
        open_on_localhost=False,
        vision_backend="openai",
    )


@pytest.fixture
async def start_app(settings: EdgeSettings, clock: FakeClock) -> AsyncIterator[StartApp]:
    """Start the edge app on loopback; several may be started (and closed) in one test."""
    clients: list[AppClient] = []

    async def start(
        *, peer_header: bool = False, as_owner: bool = False, **overrides: Any
    ) -> AppClient:
        if as_owner:
            overrides["open_on_localhost"] = True
        # Flat names, validated and folded into their sections like any other source.
        effective = settings.updated(**overrides) if overrides else settings
        token = pair_device(effective)
        app = create_app(effective, clock)
        if peer_header:
            app.middlewares.insert(0, peer_from_header)
        headers = {} if as_owner else authorized(token)
        client: AppClient = TestClient(EdgeTestServer(app), headers=headers)
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
async def anon() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session that sends no token of its own."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def owner(start_app: StartApp) -> AppClient:
    """The edge app as its owner calls it: this computer's own browser, no token."""
    return await start_app(as_owner=True)


@pytest.fixture
async def open_service(tmp_path: Path, clock: FakeClock) -> AsyncIterator[OpenService]:
    """Open a session service on one database; call again to simulate a restart."""
    stores: list[Store] = []

    async def open_() -> SessionService:
        store = Store(tmp_path / "studylens.db")
        await store.open()
        stores.append(store)
        service = SessionService(store, clock, ZONE, timedelta(minutes=30))
        await service.load()
        return service

    yield open_
    for store in stores:
        await store.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A migrated database of one test, at the path the daemon's store of the test uses."""
    database = open_database(tmp_path / "studylens.db")
    yield database
    database.close()


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A second connection to the session service's database, reading as the CLI does."""
    db = open_database(tmp_path / "studylens.db")
    yield db
    db.close()


@pytest.fixture
async def openai_peer() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI Responses API on loopback; fails the test on any body off the SDK's models."""
    peer = FakeOpenAI()
    await peer.start()
    yield peer
    await peer.stop()
    peer.assert_valid()


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


# --- cloud ------------------------------------------------------------------------------------

PG_ENV = "STUDYLENS_TEST_DATABASE_URL"
S3_ENV = "STUDYLENS_TEST_S3_ENDPOINT"
#: One database per pytest process: two runs against one server (two developers' shells, a
#: mutation run beside the suite) never truncate each other's tables.
PG_TEMPLATE = f"studylens_cloud_tests_{os.getpid()}"


def test_database_url() -> str:
    """The PostgreSQL the test command started; a clear failure when run without it."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(f"{PG_ENV} is not set: run the tests through ./scripts/test.sh")
    return url


async def pg_admin(statement: str, database: str | None = None) -> None:
    """Run one statement on the test server (the maintenance database unless named)."""
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(test_database_url())
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=database or url.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def in_thread(work: Any) -> None:
    """Run blocking setup that uses its own event loop, even when a loop runs here."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(work).result()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated once per run; each PostgreSQL test empties it first."""
    url = make_url(test_database_url()).set(database=PG_TEMPLATE)

    def build() -> None:
        asyncio.run(pg_admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
        asyncio.run(pg_admin(f"CREATE DATABASE {PG_TEMPLATE}"))
        upgrade_sync(url.render_as_string(hide_password=False))

    in_thread(build)
    yield PG_TEMPLATE
    in_thread(lambda: asyncio.run(pg_admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)")))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each SQLite test copies."""
    path = tmp_path_factory.mktemp("cloud-template") / "cloud.db"
    in_thread(lambda: upgrade_sync(f"sqlite+aiosqlite:///{path}"))
    return path


async def emptied_pg_database(template: str) -> str:
    """The migrated test database with every table emptied (faster than a new database)."""
    from cloud.db.models import Base

    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    url = make_url(test_database_url()).set(database=template)
    await pg_admin(f"TRUNCATE {tables} CASCADE", database=template)
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
async def cloud_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty cloud database: SQLite, then the same test on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "cloud-data" / "cloud.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    return await emptied_pg_database(request.getfixturevalue("pg_template"))


@pytest.fixture
async def pg_database_url(pg_template: str) -> str:
    """A migrated, empty PostgreSQL database (for tests that need real row locks)."""
    return await emptied_pg_database(pg_template)


@pytest.fixture
async def google(clock: FakeClock) -> AsyncIterator[FakeGoogle]:
    """Google's key endpoint, served on loopback with keys of our own."""
    fake = FakeGoogle(clock)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def live_google() -> AsyncIterator[FakeGoogle]:
    """Google's keys for servers in other processes, which run on the real clock."""
    fake = FakeGoogle(SystemClock())
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def cloud_settings(
    tmp_path: Path, cloud_database_url: str, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> CloudSettings:
    """Cloud settings isolated from the machine, on the test's database."""
    for name in ("STUDYLENS_CLOUD_CONFIG", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return CloudSettings(
        data_dir=tmp_path / "cloud-data",
        database_url=SecretStr(cloud_database_url),
        google_client_ids=[CLIENT_ID],
        google_jwks_url=google.jwks_url,
        google_jwks_refetch_seconds=0,
        jwt_secret=SecretStr("test-only-jwt-secret-0123456789abcdef"),
        cookie_secure=False,
    )


StartCloud = Any


@pytest.fixture
async def start_cloud(cloud_settings: CloudSettings, clock: FakeClock) -> AsyncIterator[StartCloud]:
    """Start the cloud app in-process (lifespan run); several may run in one test."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> httpx.AsyncClient:
            effective = cloud_settings.model_copy(update=overrides) if overrides else cloud_settings
            app = create_cloud_app(effective, clock=clock, migrate=False)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            )
            await stack.enter_async_context(client)
            return client

        yield start


@pytest.fixture
async def cloud(start_cloud: StartCloud) -> httpx.AsyncClient:
    """The cloud API on the test's database, and an HTTP client for it."""
    client: httpx.AsyncClient = await start_cloud()
    return client


@pytest.fixture
def s3_settings() -> dict[str, Any]:
    """Overrides that point the cloud at a fresh bucket on the loopback S3-compatible server."""
    from cloud.api.app import s3_client

    endpoint = os.environ.get(S3_ENV)
    if not endpoint:
        pytest.fail(f"{S3_ENV} is not set: run the tests through ./scripts/test.sh")
    overrides: dict[str, Any] = {
        "s3_bucket": f"studylens-{uuid.uuid4().hex[:12]}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": SecretStr("testing"),
        "s3_secret_access_key": SecretStr("testing"),
    }
    client = s3_client(CloudSettings(**overrides))
    client.create_bucket(Bucket=overrides["s3_bucket"])
    return overrides


# --- the event loop -----------------------------------------------------------------------------

#: A callback (one step of a task) that holds the loop this long fails `no_slow_callbacks`.
SLOW_CALLBACK_SECONDS = 0.05
SlowCallbackWatch = Callable[[], AbstractContextManager[list[str]]]


@pytest.fixture
def no_slow_callbacks(monkeypatch: pytest.MonkeyPatch) -> SlowCallbackWatch:
    """A context manager: a loop callback inside its block that runs too long fails the test.

    Asyncio's debug mode times every callback and logs "Executing <...> took 0.123 seconds"
    on the 'asyncio' logger for a slow one: blocking I/O on the loop (an fsync, a big hash, a
    file write) shows up there. The block sees the list of those lines, which must stay empty.
    Only the block is watched: the setup around it (a frame posted to the edge, say) is not
    what the test is about. Debug mode also records where every handle and future was made,
    which costs more than the work itself in an in-process ASGI call; those records are
    skipped, the timing stays.
    """
    import logging
    import traceback
    from asyncio import format_helpers
    from contextlib import contextmanager

    monkeypatch.setattr(format_helpers, "extract_stack", lambda *_a, **_k: traceback.StackSummary())

    class Recorder(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.slow: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("Executing ") and " took " in message:
                self.slow.append(message)

    @contextmanager
    def watch() -> Iterator[list[str]]:
        loop = asyncio.get_running_loop()
        logger = logging.getLogger("asyncio")
        recorder = Recorder()
        debug, threshold = loop.get_debug(), loop.slow_callback_duration
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
        logger.addHandler(recorder)
        try:
            yield recorder.slow
        finally:
            logger.removeHandler(recorder)
            loop.set_debug(debug)
            loop.slow_callback_duration = threshold
        assert not recorder.slow, f"callbacks held the event loop: {recorder.slow}"

    return watch


# --- speech (espeak-ng) for the barge-in tests ---------------------------------------------


@pytest.fixture(scope="session")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Voices:
    """espeak-ng utterances, their WAVs made once per session."""
    folder: Path = tmp_path_factory.mktemp("espeak")
    return Voices(folder)


@pytest.fixture(scope="session")
def utterances(voices: Voices) -> list[Samples]:
    """Eight sentences, each in another voice and at another speed."""
    return voices.utterances(8)


@pytest.fixture(scope="session")
def tutor(voices: Voices) -> Samples:
    """The tutor's answer (24 kHz), about 8 s."""
    return voices.tutor()


@pytest.fixture
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No STUDYLENS_* or systemd variable from the machine; XDG homes inside the test's tmp."""
    for name in list(os.environ):
        if name.startswith("STUDYLENS_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


# --- AWS Secrets Manager ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def secrets_manager() -> Iterator[FakeSecretsManager]:
    """The fake in a thread of the test process, on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield FakeSecretsManager(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """boto3 in this process on moto's credentials only; the variables, for child processes."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    values = aws_environment()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
