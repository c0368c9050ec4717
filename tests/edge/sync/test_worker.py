"""The sync worker against a scripted cloud (`httpx.MockTransport`): acks, failures, backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlite_utils
from pydantic import SecretStr

from edge.settings import SyncSettings
from edge.sync import outbox
from edge.sync.client import credentials_from
from edge.sync.credentials import CredentialStore
from edge.sync.worker import Pacer, SyncWorker, backoff_seconds
from tests.fakes.cloud_api import BASE, FakeCloud, answering, error, raising
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    data_of,
    services_of,
    start_session,
    track,
    upload,
)


@pytest.fixture
async def client(start_app: StartApp) -> AppClient:
    """The edge app without a sync worker of its own: the test's worker is the only one."""
    # Its own would find the saved link, try the fake's address for real and race the test's.
    return await start_app(sync_enabled=False)


@pytest.fixture
async def vision_client(start_app: StartApp, openai_peer: FakeOpenAI) -> AppClient:
    """The edge app with the fake vision model, and again no sync worker of its own."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_timeout_seconds=5,
        sync_enabled=False,
    )


@pytest.fixture
def cloud(clock: FakeClock) -> FakeCloud:
    """The scripted cloud."""
    return FakeCloud(clock)


@pytest.fixture
def credentials(settings_dir: Path, cloud: FakeCloud, clock: FakeClock) -> CredentialStore:
    """The edge linked to the scripted cloud."""
    store = CredentialStore(settings_dir)
    store.save(credentials_from(cloud.pair(), BASE, clock.now()))
    return store


@pytest.fixture
def settings_dir(client: AppClient) -> Path:
    """The edge's data dir."""
    return services_of(client).settings.data_dir


@pytest.fixture
async def make_worker(
    client: AppClient, cloud: FakeCloud, credentials: CredentialStore, clock: FakeClock
) -> AsyncIterator[object]:
    """Build workers on the edge's store, talking to the scripted cloud."""
    http = httpx.AsyncClient(transport=cloud.transport())
    services = services_of(client)

    def make(**options: object) -> SyncWorker:
        return SyncWorker(
            services.store,
            services.originals,
            credentials,
            http,
            clock,
            SyncSettings.model_validate(options),
            services.metrics,
            rand=lambda: 0.5,
        )

    yield make
    await http.aclose()


async def backlog(client: AppClient) -> outbox.Backlog:
    """What still waits."""
    return await services_of(client).store.run(outbox.backlog)


async def state(client: AppClient) -> dict[str, str]:
    """The worker's persisted status."""
    return await services_of(client).store.run(outbox.get_state)


async def some_facts(client: AppClient, clock: FakeClock) -> str:
    """A session with two topic segments and a help request."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(30)
    await track(client, clock, session_id, "Math")
    await client.post("/api/help-count", json={"sessionId": session_id})
    return session_id


# --- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    """Each failure doubles the delay until the cap; jitter keeps it in [half, whole]."""
    delays = [backoff_seconds(n, base=2, cap=300, rand=1.0) for n in range(1, 11)]
    assert delays[:4] == [2, 4, 8, 16]
    assert max(delays) == 300
    assert backoff_seconds(3, base=2, cap=300, rand=0.0) == 4


def test_backoff_jitter_spreads_retries() -> None:
    """Different random draws give different delays within the same bounds."""
    low = backoff_seconds(5, base=2, cap=300, rand=0.0)
    high = backoff_seconds(5, base=2, cap=300, rand=0.99)
    assert low == 16
    assert 16 < high < 32


# --- facts ----------------------------------------------------------------------------------


async def test_everything_acknowledged_leaves_the_outbox(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """A pass delivers every fact and records its success."""
    await some_facts(client, clock)
    worker = make_worker()  # type: ignore[operator]
    assert await worker.step() == 5.0
    assert (await backlog(client)).facts == 0
    assert {f["kind"] for f in cloud.facts.values()} == {
        "session",
        "topic_segment",
        "help_request",
    }
    assert (await state(client))["last_success_at"] == "2026-11-25T09:00:30.000Z"


async def test_a_fact_changed_while_its_batch_is_in_flight_is_sent_again(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """The ack covers the revision sent: a session ended meanwhile goes in the next batch."""
    session_id = await start_session(client)

    async def end_the_session() -> None:
        clock.advance(60)
        await data_of(await client.post(f"/api/session/{session_id}/end"))

    cloud.during_batch.append(end_the_session)
    worker = make_worker()  # type: ignore[operator]
    await worker.step()
    [sent] = [i for i in cloud.received[0] if i["id"] == session_id]
    assert sent["payload"]["endedAt"] is None  # the batch left before the session ended
    await worker.step()
    [again] = [i for batch in cloud.received[1:] for i in batch if i["id"] == session_id]
    assert again["revision"] > sent["revision"]
    assert cloud.facts[session_id]["payload"]["endReason"] == "ended"
    assert (await backlog(client)).facts == 0


async def test_not_linked_means_the_outbox_waits(
    client: AppClient, clock: FakeClock, credentials: CredentialStore, make_worker: object
) -> None:
    """Without credentials nothing is sent and nothing is lost."""
    credentials.delete()
    await some_facts(client, clock)
    worker = make_worker()  # type: ignore[operator]
    await worker.step()
    assert (await backlog(client)).facts == 4


async def test_rejected_items_are_parked_and_the_rest_delivered(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """A partial acknowledgement delivers what was acked and parks what was refused."""
    session_id = await some_facts(client, clock)
    cloud.reject_ids.add(session_id)
    await make_worker().step()  # type: ignore[operator]
    left = await backlog(client)
    assert (left.facts, left.rejected) == (0, 1)
    assert session_id not in cloud.facts
    assert len(cloud.facts) == 3


async def test_an_id_another_account_holds_is_parked_as_a_conflict(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """The cloud's `id_conflict` parks that fact under that code; the rest is delivered."""
    session_id = await some_facts(client, clock)
    cloud.foreign_ids.add(session_id)
    await make_worker().step()  # type: ignore[operator]
    codes = await services_of(client).store.run(
        lambda db: [
            tuple(row)
            for row in db.execute(
                "SELECT fact_id, rejected_code FROM sync_outbox WHERE rejected_code IS NOT NULL"
            )
        ]
    )
    assert codes == [(session_id, "id_conflict")]
    assert (await backlog(client)).facts == 0
    assert len(cloud.facts) == 3


async def test_a_5xx_keeps_everything_and_backs_off(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """A server error delivers nothing and schedules a retry with backoff."""
    await some_facts(client, clock)
    cloud.fail_next.append(answering(error(503, "store_unavailable")))
    worker = make_worker()  # type: ignore[operator]
    assert await worker.step() == 1.5  # 2 s ceiling, half fixed, half jitter at 0.5
    assert (await backlog(client)).facts == 4
    status = await state(client)
    assert status["last_error"].startswith("unavailable")
    assert status["next_retry_at"] == "2026-11-25T09:00:31.500Z"
    assert await worker.step() == 5.0
    assert (await backlog(client)).facts == 0


async def test_timeouts_and_refused_connections_are_retried(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """Transport failures count as failures in a row; the next success resets them."""
    await some_facts(client, clock)
    cloud.fail_next += [
        raising(httpx.ReadTimeout("slow")),
        raising(httpx.ConnectError("refused")),
    ]
    worker = make_worker()  # type: ignore[operator]
    first = await worker.step()
    second = await worker.step()
    assert (worker.failures, first, second) == (2, 1.5, 3.0)
    await worker.step()
    assert worker.failures == 0
    assert (await backlog(client)).facts == 0


async def test_a_413_halves_the_batch(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """When the cloud refuses the batch size, smaller batches get everything through."""
    await some_facts(client, clock)
    cloud.max_items = 2
    worker = make_worker(batch_size=8)  # type: ignore[operator]
    for _ in range(6):
        if await worker.step() is not None and (await backlog(client)).facts == 0:
            break
    assert (await backlog(client)).facts == 0
    assert max(cloud.batches) <= 2


async def test_a_401_refreshes_and_retries(
    client: AppClient,
    clock: FakeClock,
    cloud: FakeCloud,
    make_worker: object,
    credentials: CredentialStore,
) -> None:
    """An access token the cloud no longer takes is refreshed once and the call repeated."""
    await some_facts(client, clock)
    cloud.access = "rotated-elsewhere"
    await make_worker().step()  # type: ignore[operator]
    assert cloud.refreshes == 1
    assert (await backlog(client)).facts == 0
    saved = credentials.load()
    assert saved is not None
    assert saved.refresh_token == cloud.refresh_token


async def test_an_expiring_access_token_is_refreshed_first(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """Within a minute of expiry the token is refreshed before the call."""
    await some_facts(client, clock)
    clock.advance(15 * 60 - 30)
    await make_worker().step()  # type: ignore[operator]
    assert cloud.refreshes == 1
    assert (await backlog(client)).facts == 0


async def test_a_lost_refresh_answer_keeps_the_old_token(
    client: AppClient,
    clock: FakeClock,
    cloud: FakeCloud,
    make_worker: object,
    credentials: CredentialStore,
) -> None:
    """If the refresh answer never arrives, the saved refresh token is unchanged."""
    await some_facts(client, clock)
    before = credentials.load()
    cloud.access = "rotated-elsewhere"
    cloud.fail_next += [answering(error(401, "invalid_token")), raising(httpx.ReadError("gone"))]
    worker = make_worker()  # type: ignore[operator]
    await worker.step()
    assert worker.failures == 1
    assert credentials.load() == before


async def test_a_dead_refresh_token_reports_unlinked(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """A refused refresh is reported as unlinked and nothing is lost."""
    await some_facts(client, clock)
    cloud.access = "rotated-elsewhere"
    cloud.refresh_token = "revoked-family"  # noqa: S105 - a fake token
    worker = make_worker()  # type: ignore[operator]
    await worker.step()
    assert (await state(client))["last_error"].startswith("unlinked")
    assert (await backlog(client)).facts == 4


# --- images ---------------------------------------------------------------------------------


@pytest.fixture
async def vision_worker(
    vision_client: AppClient, cloud: FakeCloud, clock: FakeClock
) -> AsyncIterator[SyncWorker]:
    """A worker for the edge with a vision model (frames make events with originals)."""
    services = services_of(vision_client)
    store = CredentialStore(services.settings.data_dir)
    store.save(credentials_from(cloud.pair(), BASE, clock.now()))
    async with httpx.AsyncClient(transport=cloud.transport()) as http:
        yield SyncWorker(
            services.store, services.originals, store, http, clock, SyncSettings(), rand=lambda: 0.5
        )


async def test_an_original_is_uploaded_before_its_event(
    vision_client: AppClient, vision_worker: SyncWorker, cloud: FakeCloud
) -> None:
    """The image goes to its presigned URL, the cloud confirms it, then the event follows."""
    data = jpeg(640, 480)
    frame = await upload(vision_client, data)
    sha = frame["imageKey"].split(".")[0]
    result = await vision_worker.sync_pass()
    assert result.images == 1
    assert cloud.images[sha] == data  # confirmed: a presign after the PUT listed it as stored
    [event] = [f for f in cloud.facts.values() if f["kind"] == "learning_event"]
    assert event["payload"]["imageSha256"] == sha


async def test_an_upload_counts_only_once_the_cloud_lists_it_stored(
    vision_client: AppClient, vision_worker: SyncWorker, cloud: FakeCloud
) -> None:
    """A PUT answered 200 whose bytes never landed keeps its event waiting, and is sent again."""
    frame = await upload(vision_client, jpeg(640, 480))
    sha = frame["imageKey"].split(".")[0]
    cloud.lose_uploads = 1
    assert (await vision_worker.sync_pass()).images == 0
    assert (await backlog(vision_client)).images == 1
    assert [f for f in cloud.facts.values() if f["kind"] == "learning_event"] == []
    assert (await vision_worker.sync_pass()).images == 1
    [event] = [f for f in cloud.facts.values() if f["kind"] == "learning_event"]
    assert event["payload"]["imageSha256"] == sha


async def test_an_original_changed_on_disk_is_not_put(
    vision_client: AppClient, vision_worker: SyncWorker, cloud: FakeCloud
) -> None:
    """Bytes that no longer match their name are not uploaded (S3 would refuse their checksum)."""
    frame = await upload(vision_client, jpeg(640, 480))
    path = services_of(vision_client).originals.path_for(frame["imageKey"])
    path.write_bytes(path.read_bytes()[::-1])  # same size, other SHA-256
    await vision_worker.sync_pass()
    assert cloud.upload_headers == []
    [event] = [f for f in cloud.facts.values() if f["kind"] == "learning_event"]
    assert event["payload"]["imageSha256"] is None


async def test_a_vanished_original_releases_its_event(
    vision_client: AppClient, vision_worker: SyncWorker, cloud: FakeCloud
) -> None:
    """An original deleted locally is recorded missing and its event sent without it."""
    frame = await upload(vision_client, jpeg(640, 480))
    services_of(vision_client).originals.path_for(frame["imageKey"]).unlink()
    await vision_worker.sync_pass()
    [event] = [f for f in cloud.facts.values() if f["kind"] == "learning_event"]
    assert event["payload"]["imageSha256"] is None
    assert cloud.images == {}


async def test_retention_deletes_only_confirmed_old_originals(
    vision_client: AppClient, vision_worker: SyncWorker, clock: FakeClock
) -> None:
    """Originals are deleted after the retention period only once the cloud holds them."""
    services = services_of(vision_client)
    sent = await upload(vision_client, jpeg(640, 480, seed=1))
    await vision_worker.sync_pass()
    kept = await upload(vision_client, jpeg(640, 480, seed=2))  # not uploaded yet
    clock.advance(timedelta(days=8).total_seconds())
    assert await vision_worker.prune(7) == 1
    assert not services.originals.path_for(sent["imageKey"]).exists()
    assert services.originals.path_for(kept["imageKey"]).exists()


@pytest.mark.parametrize(
    "marks",
    [
        pytest.param({}, id="no-marks"),
        pytest.param({"missing_at": "2026-11-25T09:00:00.000Z"}, id="marked-missing"),
    ],
)
async def test_retention_keeps_an_original_whose_sync_row_lacks_the_upload(
    vision_client: AppClient, vision_worker: SyncWorker, clock: FakeClock, marks: dict[str, str]
) -> None:
    """An old original whose sync row has no `uploaded_at` stays; a confirmed one goes."""
    services = services_of(vision_client)
    confirmed = (await upload(vision_client, jpeg(640, 480, seed=1)))["imageKey"]
    unconfirmed = (await upload(vision_client, jpeg(640, 480, seed=2)))["imageKey"]
    at = "2026-11-25T09:00:00.000Z"

    def damaged_marks(db: sqlite_utils.Database) -> None:
        outbox.mark_images(db, [confirmed], "uploaded_at", at)
        # A row the cloud never confirmed: a lost or damaged mark, as the table may hold one.
        db.table("sync_images").insert({"image_key": unconfirmed, "pruned_at": None} | marks)

    await services.store.run(damaged_marks)
    clock.advance(timedelta(days=8).total_seconds())
    assert await vision_worker.prune(7) == 1
    assert not services.originals.path_for(confirmed).exists()
    assert services.originals.path_for(unconfirmed).exists()


# --- bandwidth ------------------------------------------------------------------------------


async def test_pacer_spaces_uploads_to_the_byte_rate() -> None:
    """At 1,000 B/s, three 500-byte uploads start at 0, 0.5 and 1.0 s."""
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    pacer = Pacer(1000, now=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await pacer.take(500)
    assert waits == [0.5, 1.0]


async def test_pacer_without_a_rate_never_waits() -> None:
    """No cap, no waiting."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    pacer = Pacer(None, now=lambda: 0.0, sleep=sleep)
    await pacer.take(10**9)
    assert waits == []


async def test_sync_figures_are_metrics(
    client: AppClient, clock: FakeClock, cloud: FakeCloud, make_worker: object
) -> None:
    """Delivered facts, failures and the backlog show up in /metrics."""
    from prometheus_client import generate_latest

    await some_facts(client, clock)
    cloud.fail_next.append(raising(httpx.ConnectError("refused")))
    worker = make_worker()  # type: ignore[operator]
    await worker.step()
    await worker.step()
    text = generate_latest(services_of(client).metrics.registry).decode()
    assert 'studylens_sync_facts_total{status="stored"} 4.0' in text
    assert 'studylens_sync_failures_total{reason="unavailable"} 1.0' in text
    assert 'studylens_sync_pending{what="facts"} 0.0' in text
