"""The sync worker against the real cloud app, in-process: its own meaning of "stored".

The cloud (on its embedded object folder) records an image only when a presign after the upload
finds it, and serves it to its owner only then; the worker must wait for that confirmation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from edge.memory import records
from edge.memory.port import CardDraft
from edge.settings import SyncSettings
from edge.sync import outbox
from edge.sync.client import credentials_from
from edge.sync.credentials import CredentialStore
from edge.sync.worker import SyncWorker
from shared.auth import TokenPair
from tests.cloud.support import bearer, data_of, link_device, sign_in
from tests.edge.memory.conftest import MITOSIS, add_session
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


async def test_cards_and_grades_reach_the_cloud_and_a_deleted_card_leaves_it(
    vision_client: AppClient,
    worker: SyncWorker,
    cloud: httpx.AsyncClient,
    student: dict[str, Any],
    clock: FakeClock,
) -> None:
    """A card and its grade are counted by the cloud; deleting the card deletes both there."""
    services = services_of(vision_client)

    def make(db: Any) -> str:
        session_id, [event] = add_session(db, [MITOSIS], at=clock.now() - timedelta(hours=2))
        draft = CardDraft(event, "Biology", None, "qa", "What is mitosis?", "Nuclear division")
        card_id = records.insert_card(db, session_id, draft, "on-device", clock.now())
        assert card_id is not None
        return card_id

    card_id = await services.store.run(make)
    await services.review.grade(card_id, "good")
    await worker.sync_pass()
    week = f"/api/review/weekly?date={clock.now().date().isoformat()}&tz=UTC"
    counted = data_of(await cloud.get(week, headers=bearer(student["accessToken"])))
    assert (counted["cards"], counted["reviewed"], counted["recalled"]) == (1, 1, 1)
    assert counted["topics"][0]["topic"] == "Biology"

    await services.review.delete(card_id)
    await worker.sync_pass()

    after = data_of(await cloud.get(week, headers=bearer(student["accessToken"])))
    assert (after["cards"], after["reviewed"]) == (0, 0)
    backlog = await services.store.run(outbox.backlog)
    assert (backlog.facts, backlog.deletions) == (0, 0)
