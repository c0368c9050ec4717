"""The sync flow never blocks the event loop: every fsync and file write runs in a thread.

Run under asyncio's debug mode (`no_slow_callbacks`) on a slow disk: each fsync takes 100 ms,
so one made on the loop (the link file's save, the cloud's object folder write) is a callback
over the 50 ms threshold and fails the test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from edge.settings import SyncSettings
from edge.sync.client import credentials_from
from edge.sync.credentials import CredentialStore
from edge.sync.worker import SyncWorker
from shared.auth import TokenPair
from tests.cloud.support import bearer, link_device, sign_in
from tests.conftest import SlowCallbackWatch
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, FakeClock, StartApp, services_of, upload

FSYNC_SECONDS = 0.1


@pytest.fixture
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every `os.fsync` takes `FSYNC_SECONDS` first; the list counts them."""
    real: Callable[[int], None] = os.fsync
    calls: list[float] = []

    def fsync(fd: int) -> None:
        calls.append(time.monotonic())
        time.sleep(FSYNC_SECONDS)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.fixture
async def vision_client(start_app: StartApp, openai_peer: FakeOpenAI) -> AppClient:
    """The edge with the fake vision model and no sync worker of its own (the test's syncs)."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_timeout_seconds=5,
        sync_enabled=False,
    )


async def test_a_sync_with_refresh_and_upload_never_blocks_the_loop(
    vision_client: AppClient,
    cloud: httpx.AsyncClient,
    google: FakeGoogle,
    clock: FakeClock,
    slow_disk: list[float],
    no_slow_callbacks: SlowCallbackWatch,
) -> None:
    """Refresh (link file saved, fsynced), presign, folder PUT (fsynced), batch: off the loop."""
    services = services_of(vision_client)
    student: dict[str, Any] = await sign_in(cloud, google)
    pair = TokenPair.model_validate(await link_device(cloud, student))
    store = CredentialStore(services.settings.data_dir)
    worker = SyncWorker(
        services.store, services.originals, store, cloud, clock, SyncSettings(), rand=lambda: 0.5
    )
    linked = credentials_from(pair, "http://testserver", clock.now())
    await store.write(linked)
    # One pass first, unwatched: the in-process cloud's first requests build caches (routes,
    # statements, models) that a loaded machine can take longer than the threshold over.
    await upload(vision_client, jpeg(640, 480, seed=1))
    assert await worker.step() is not None
    frame = await upload(vision_client, jpeg(640, 480, seed=2))
    linked = (await store.read()) or linked
    fsyncs_before = len(slow_disk)

    with no_slow_callbacks():
        await store.write(linked)
        clock.advance(pair.expires_in + 1)  # the access token is stale: the pass refreshes
        assert await worker.step() is not None

    assert worker.failures == 0
    assert (await store.read()) != linked
    # The link file twice and the object, each file and folder, all inside the watched pass.
    assert len(slow_disk) - fsyncs_before >= 6
    student = await sign_in(cloud, google)  # the clock moved past the student's token too
    sha = frame["imageKey"].split(".")[0]
    opened = await cloud.get(f"/api/images/{sha}", headers=bearer(student["accessToken"]))
    assert opened.status_code == 307, opened.text
