"""The sync worker against the real cloud app, in-process: its own meaning of "stored".

The cloud (on its embedded object folder) records an image only when a presign after the upload
finds it, and serves it to its owner only then; the worker must wait for that confirmation.
"""

from __future__ import annotations

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
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, FakeClock, StartApp, services_of, upload


@pytest.fixture
async def vision_client(start_app: StartApp, openai_peer: FakeOpenAI) -> AppClient:
    """The edge with the fake vision model and no sync worker of its own (the test's syncs)."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_timeout_seconds=5,
        sync_enabled=False,
    )


@pytest.fixture
async def student(cloud: httpx.AsyncClient, google: FakeGoogle) -> dict[str, Any]:
    """A signed-in student's token pair."""
    return await sign_in(cloud, google)


@pytest.fixture
async def worker(
    vision_client: AppClient,
    cloud: httpx.AsyncClient,
    student: dict[str, Any],
    clock: FakeClock,
) -> SyncWorker:
    """The edge linked to the in-process cloud, its worker talking to it (uploads too)."""
    services = services_of(vision_client)
    pair = TokenPair.model_validate(await link_device(cloud, student))
    store = CredentialStore(services.settings.data_dir)
    # The cloud's app answers at http://testserver, its object folder's URLs included.
    store.save(credentials_from(pair, "http://testserver", clock.now()))
    return SyncWorker(
        services.store, services.originals, store, cloud, clock, SyncSettings(), rand=lambda: 0.5
    )


async def test_an_upload_is_confirmed_before_the_worker_counts_it(
    vision_client: AppClient,
    worker: SyncWorker,
    cloud: httpx.AsyncClient,
    student: dict[str, Any],
) -> None:
    """After one pass the cloud has recorded the original: its owner can open it."""
    frame = await upload(vision_client, jpeg(640, 480))
    sha = frame["imageKey"].split(".")[0]
    assert (await worker.sync_pass()).images == 1
    opened = await cloud.get(f"/api/images/{sha}", headers=bearer(student["accessToken"]))
    assert opened.status_code == 307, opened.text
