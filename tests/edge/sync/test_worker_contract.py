"""The sync worker's contract against the scripted cloud: status, counts, metrics, run, prune.

Workers are built as the daemon builds them (`edge.sync.build.sync_worker` from the edge's
settings), so a test's options are the app's flat settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from edge.sync import outbox
from edge.sync.build import sync_worker
from edge.sync.client import credentials_from
from edge.sync.credentials import CredentialStore
from edge.sync.worker import Pacer, SyncWorker
from shared.clock import from_iso, to_iso
from shared.schemas import success
from shared.sync import ItemResult, SyncBatchResult
from tests.fakes.cloud_api import BASE, FakeCloud, answering, error, raising
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    metrics_text,
    services_of,
    start_session,
    track,
    upload,
)

Make = Callable[..., Awaitable[tuple[AppClient, SyncWorker]]]


@pytest.fixture
def cloud(clock: FakeClock) -> FakeCloud:
    """The scripted cloud."""
    return FakeCloud(clock)


@pytest.fixture
async def http(cloud: FakeCloud) -> AsyncIterator[httpx.AsyncClient]:
    """The worker's HTTP client, answered by the scripted cloud."""
    async with httpx.AsyncClient(transport=cloud.transport()) as client:
        yield client


def build(client: AppClient, http: httpx.AsyncClient, clock: FakeClock) -> SyncWorker:
    """The worker the daemon would build for this app's settings, store and metrics."""
    services = services_of(client)
    return sync_worker(
        services.settings,
        store=services.store,
        http=http,
        clock=clock,
        originals=services.originals,
        metrics=services.metrics,
    )


@pytest.fixture
def make(start_app: StartApp, cloud: FakeCloud, clock: FakeClock, http: httpx.AsyncClient) -> Make:
    """An edge app (no worker of its own) with these settings, linked, and a worker for it."""

    async def start(*, linked: bool = True, **flat: Any) -> tuple[AppClient, SyncWorker]:
        client = await start_app(sync_enabled=False, **flat)
        if linked:
            store = CredentialStore(services_of(client).settings.data_dir)
            store.save(credentials_from(cloud.pair(), BASE, clock.now()))
        return client, build(client, http, clock)

    return start


@pytest.fixture
def make_vision(make: Make, openai_peer: FakeOpenAI) -> Make:
    """As `make`, with the fake vision model: frames make events with originals."""

    async def start(**flat: Any) -> tuple[AppClient, SyncWorker]:
        return await make(
            openai_api_key=SecretStr("sk-test-not-a-real-key"),
            openai_base_url=openai_peer.base_url,
            vision_timeout_seconds=5,
            **flat,
        )

    return start


async def state(client: AppClient) -> dict[str, str]:
    """The worker's persisted status."""
    return await services_of(client).store.run(outbox.get_state)


async def backlog(client: AppClient) -> outbox.Backlog:
    """What still waits."""
    return await services_of(client).store.run(outbox.backlog)


async def some_facts(client: AppClient, clock: FakeClock) -> str:
    """A session with two topic segments and a help request (four facts)."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(30)
    await track(client, clock, session_id, "Math")
    await client.post("/api/help-count", json={"sessionId": session_id})
    return session_id


async def until(condition: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until `condition()` holds; fail after `within` seconds."""

    async def poll() -> None:
        # The fake cloud's state has no event to wait on; a deadline bounds the polling.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), within)


@contextlib.asynccontextmanager
async def running(worker: SyncWorker) -> AsyncIterator[asyncio.Task[None]]:
    """`worker.run()` as a task for the block, cancelled after it."""
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- failures and status --------------------------------------------------------------------


async def test_a_refused_request_is_reported_as_refused(make: Make, cloud: FakeCloud) -> None:
    """A 4xx other than 401/413 counts as `refused`: in the status and the failure metric."""
    client, worker = await make()
    await start_session(client)
    cloud.fail_next.append(answering(error(400, "bad_request", "no")))
    await worker.step()
    assert (await state(client))["last_error"] == "refused: 400 bad_request: no"
    assert 'studylens_sync_failures_total{reason="refused"} 1.0' in metrics_text(client)


async def test_a_failure_of_no_known_kind_is_reported_as_error(
    make_vision: Make, cloud: FakeCloud
) -> None:
    """A presign answered 413 (no cloud-down, unlinked or refused) counts as plain `error`."""
    client, worker = await make_vision()
    await upload(client, jpeg(640, 480))
    cloud.fail_next.append(answering(error(413, "too_many", "too many images")))
    await worker.step()
    assert (await state(client))["last_error"] == "error: too many images"
    assert 'studylens_sync_failures_total{reason="error"} 1.0' in metrics_text(client)


async def test_a_long_failure_is_stored_cut_to_500_characters(make: Make, cloud: FakeCloud) -> None:
    """The status keeps the first 500 characters of a failure's text."""
    client, worker = await make()
    await start_session(client)
    cloud.fail_next.append(answering(error(400, "bad_request", "m" * 1000)))
    await worker.step()
    assert (await state(client))["last_error"] == ("refused: 400 bad_request: " + "m" * 1000)[:500]


async def test_failures_in_a_row_are_recorded_with_their_time_and_retry(
    make: Make, cloud: FakeCloud, clock: FakeClock
) -> None:
    """Each failure stores the count so far, when it happened and when the retry is due."""
    client, worker = await make()
    await start_session(client)
    cloud.fail_next += [answering(error(503, "down")), answering(error(503, "down"))]
    await worker.step()
    clock.advance(10)
    delay = await worker.step()
    assert delay is not None
    status = await state(client)
    assert status["failures"] == "2"
    assert status["last_error_at"] == to_iso(clock.now())
    retry_in = from_iso(status["next_retry_at"]) - from_iso(status["last_error_at"])
    assert abs(retry_in.total_seconds() - delay) < 0.001


async def test_a_success_after_failures_clears_the_retry_and_the_count(
    make: Make, cloud: FakeCloud
) -> None:
    """A pass that succeeds stores failures = 0 and no pending retry time."""
    client, worker = await make()
    await start_session(client)
    cloud.fail_next.append(answering(error(503, "down")))
    await worker.step()
    await worker.step()
    status = await state(client)
    assert status["failures"] == "0"
    assert "next_retry_at" not in status


async def test_an_error_outside_the_client_counts_as_cloud_unavailable(
    make: Make, cloud: FakeCloud
) -> None:
    """An HTTP error the client does not map is stored as `unavailable` with its repr."""
    client, worker = await make()
    await start_session(client)
    cloud.fail_next.append(raising(httpx.DecodingError("garbled")))
    await worker.step()
    assert worker.failures == 1
    assert (await state(client))["last_error"] == "unavailable: DecodingError('garbled')"


async def test_a_damaged_link_file_is_reported_as_unlinked(make: Make) -> None:
    """A link file that cannot be parsed is a failure of kind `unlinked`, and nothing is sent."""
    client, worker = await make()
    await start_session(client)
    CredentialStore(services_of(client).settings.data_dir).path.write_text("{not json")
    await worker.step()
    assert (await state(client))["last_error"].startswith("unlinked: ")
    assert (await backlog(client)).facts == 1


async def test_an_unlinked_edge_counts_its_backlog_at_most_once_a_minute(make: Make) -> None:
    """Local-only, the backlog gauge is set on the first step, not again within the minute."""
    client, worker = await make(linked=False)
    await start_session(client)
    assert await worker.step() == 5.0
    await client.post("/api/help-count", json={"sessionId": (await backlog_ids(client))[0]})
    assert await worker.step() == 5.0
    assert (await backlog(client)).facts == 2
    assert 'studylens_sync_pending{what="facts"} 1.0' in metrics_text(client)


async def backlog_ids(client: AppClient) -> list[str]:
    """The ids of the pending facts."""
    facts = await services_of(client).store.run(lambda db: outbox.pending_facts(db, 500))
    return [f.fact_id for f in facts]


async def test_the_backlog_gauges_show_waiting_images_and_refused_facts(
    make_vision: Make, clock: FakeClock
) -> None:
    """The pending gauge reports originals waiting and facts refused under their own labels."""
    client, worker = await make_vision(linked=False)
    await upload(client, jpeg(640, 480))
    session = await services_of(client).store.run(
        lambda db: next(f for f in outbox.pending_facts(db, 500) if f.kind == "session")
    )
    await services_of(client).store.run(lambda db: outbox.mark_rejected(db, session, "no"))
    await worker.step()
    text = metrics_text(client)
    assert 'studylens_sync_pending{what="images"} 1.0' in text
    assert 'studylens_sync_pending{what="rejected"} 1.0' in text


# --- facts ----------------------------------------------------------------------------------


async def test_a_413_halves_the_batch_until_one_fits(
    make: Make, cloud: FakeCloud, clock: FakeClock
) -> None:
    """Batch 5 refused, then 2 refused, then 1 taken: each step says go on at once."""
    client, worker = await make(sync_batch_size=5)
    await some_facts(client, clock)
    cloud.max_items = 1
    assert [await worker.step() for _ in range(3)] == [None, None, None]
    assert cloud.batches == [1]


async def test_a_full_batch_asks_to_go_on_at_once(make: Make, clock: FakeClock) -> None:
    """A batch that used the whole batch size returns None: more may wait."""
    client, worker = await make(sync_batch_size=2)
    await some_facts(client, clock)
    assert await worker.step() is None


async def test_an_answer_for_another_number_of_items_is_a_cloud_failure(
    make: Make, cloud: FakeCloud
) -> None:
    """Results that do not match the items sent deliver nothing and say why."""
    client, worker = await make()
    await start_session(client)
    empty = SyncBatchResult(stored=0, unchanged=0, rejected=0, results=[])
    cloud.fail_next.append(answering(httpx.Response(200, json=success(empty))))
    await worker.step()
    assert (await state(client))["last_error"] == (
        "unavailable: the cloud answered for a different number of items"
    )
    assert (await backlog(client)).facts == 1


async def test_a_refusal_without_an_error_body_is_parked_as_rejected(
    make: Make, cloud: FakeCloud
) -> None:
    """An item answered `rejected` with no error is parked under the code `rejected`."""
    client, worker = await make()
    session_id = await start_session(client)
    refused = ItemResult(index=0, id=session_id, status="rejected")
    answer = SyncBatchResult(stored=0, unchanged=0, rejected=1, results=[refused])
    cloud.fail_next.append(answering(httpx.Response(200, json=success(answer))))
    await worker.step()
    code = await services_of(client).store.run(
        lambda db: db.execute(
            "SELECT rejected_code FROM sync_outbox WHERE fact_id = ?", [session_id]
        ).fetchone()[0]
    )
    assert code == "rejected"


async def test_a_pass_lists_the_ids_the_cloud_refused(
    make: Make, cloud: FakeCloud, clock: FakeClock
) -> None:
    """`sync_pass` reports the refused facts by id."""
    client, worker = await make()
    session_id = await some_facts(client, clock)
    cloud.reject_ids.add(session_id)
    result = await worker.sync_pass()
    assert (result.rejected, result.facts) == ([session_id], 3)


# --- run ------------------------------------------------------------------------------------


async def test_run_sends_full_batches_back_to_back(
    make: Make, cloud: FakeCloud, clock: FakeClock
) -> None:
    """With batches of one and an hour's idle wait, `run` still sends all four at once."""
    client, worker = await make(sync_batch_size=1, sync_idle_seconds=3600)
    await some_facts(client, clock)
    async with running(worker):
        await until(lambda: _has(cloud, 4))
    assert cloud.batches == [1, 1, 1, 1]


async def _has(cloud: FakeCloud, count: int) -> bool:
    return len(cloud.facts) >= count


async def test_an_idle_run_looks_again_after_the_idle_time(
    make: Make, cloud: FakeCloud, clock: FakeClock
) -> None:
    """Unwoken, an idle `run` finds a fact written later after `idle_seconds`."""
    client, worker = await make(sync_idle_seconds=0.05)
    session_id = await start_session(client)
    async with running(worker):
        await until(lambda: _has(cloud, 1))
        await client.post("/api/help-count", json={"sessionId": session_id})
        await until(lambda: _has(cloud, 2))
    assert {f["kind"] for f in cloud.facts.values()} == {"session", "help_request"}


async def test_a_wake_cuts_the_idle_wait_short(
    make: Make, cloud: FakeCloud, clock: FakeClock
) -> None:
    """With an hour's idle wait, a wake-up sends a new fact at once."""
    client, worker = await make(sync_idle_seconds=3600)
    session_id = await start_session(client)
    async with running(worker):
        await until(lambda: _has(cloud, 1))
        await client.post("/api/help-count", json={"sessionId": session_id})
        worker.wake()
        await until(lambda: _has(cloud, 2))
    assert len(cloud.batches) == 2


async def test_run_retries_after_a_failure(make: Make, cloud: FakeCloud) -> None:
    """After a failed pass, `run` waits out the backoff and then delivers."""
    client, worker = await make(sync_backoff_cap_seconds=1)
    await start_session(client)
    cloud.fail_next.append(answering(error(503, "down")))

    async def recovered() -> bool:
        # The cloud holds the fact before the edge has read its answer and reset the count.
        return await _has(cloud, 1) and (await state(client)).get("failures") == "0"

    async with running(worker):
        await until(recovered)
    assert (await state(client))["failures"] == "0"
    assert await _has(cloud, 1)


# --- originals ------------------------------------------------------------------------------


async def test_a_pass_without_originals_counts_no_images(make: Make, clock: FakeClock) -> None:
    """A pass with only facts to send reports zero images."""
    client, worker = await make()
    await some_facts(client, clock)
    assert (await worker.sync_pass()).images == 0


async def test_a_vanished_original_counts_as_missing_not_uploaded(make_vision: Make) -> None:
    """An original gone from disk counts 0 uploaded and 1 missing."""
    client, worker = await make_vision()
    frame = await upload(client, jpeg(640, 480))
    services_of(client).originals.path_for(frame["imageKey"]).unlink()
    assert (await worker.sync_pass()).images == 0
    assert 'studylens_sync_images_total{result="missing"} 1.0' in metrics_text(client)


async def test_an_original_changed_on_disk_counts_as_missing(
    make_vision: Make, cloud: FakeCloud
) -> None:
    """Bytes that no longer match their name are counted missing, not uploaded."""
    client, worker = await make_vision()
    frame = await upload(client, jpeg(640, 480))
    path = services_of(client).originals.path_for(frame["imageKey"])
    path.write_bytes(path.read_bytes()[::-1])
    assert (await worker.sync_pass()).images == 0
    assert 'studylens_sync_images_total{result="missing"} 1.0' in metrics_text(client)


async def test_an_upload_the_cloud_confirms_counts_as_uploaded(make_vision: Make) -> None:
    """A confirmed original is counted under `uploaded`."""
    client, worker = await make_vision()
    await upload(client, jpeg(640, 480))
    assert (await worker.sync_pass()).images == 1
    assert 'studylens_sync_images_total{result="uploaded"} 1.0' in metrics_text(client)


async def test_an_original_the_cloud_already_holds_is_not_put_again(
    make_vision: Make, cloud: FakeCloud
) -> None:
    """An image the cloud lists as stored is confirmed without an upload; its event names it."""
    client, worker = await make_vision()
    data = jpeg(640, 480)
    frame = await upload(client, data)
    sha = frame["imageKey"].split(".")[0]
    cloud.images[sha] = data
    assert (await worker.sync_pass()).images == 1
    assert cloud.upload_headers == []
    [event] = [f for f in cloud.facts.values() if f["kind"] == "learning_event"]
    assert event["payload"]["imageSha256"] == sha


async def test_the_first_paced_upload_starts_at_once() -> None:
    """However early the clock, the first upload under a byte rate never waits."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    pacer = Pacer(1000, now=lambda: 0.5, sleep=sleep)
    await pacer.take(500)
    assert waits == []


async def test_the_bandwidth_cap_spaces_the_uploads_of_a_pass(make_vision: Make) -> None:
    """At 1,000 B/s the second of two originals starts only after the first's bytes drained."""
    client, worker = await make_vision(sync_upload_bytes_per_second=1000, sync_upload_concurrency=1)
    first = jpeg(32, 32, seed=1)
    await upload(client, first)
    await upload(client, jpeg(32, 32, seed=2))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await worker.sync_pass()).images == 2
    assert loop.time() - started >= 0.9 * min(len(first), len(jpeg(32, 32, seed=2))) / 1000


# --- retention ------------------------------------------------------------------------------


async def test_a_pass_prunes_by_the_retention_setting(make_vision: Make, clock: FakeClock) -> None:
    """With `originals_retention_days`, a pass deletes confirmed originals older than that."""
    client, worker = await make_vision(originals_retention_days=7)
    frame = await upload(client, jpeg(640, 480))
    await worker.sync_pass()
    clock.advance(timedelta(days=8).total_seconds())
    await worker.sync_pass()
    assert not services_of(client).originals.path_for(frame["imageKey"]).exists()


async def test_a_confirmed_original_seen_recently_is_kept(
    make_vision: Make, clock: FakeClock
) -> None:
    """A confirmed original whose frame is younger than the retention stays on disk."""
    client, worker = await make_vision()
    frame = await upload(client, jpeg(640, 480))
    await worker.sync_pass()
    clock.advance(timedelta(days=6).total_seconds())
    assert await worker.prune(7) == 0
    assert services_of(client).originals.path_for(frame["imageKey"]).exists()


async def test_an_original_already_gone_counts_as_pruned(
    make_vision: Make, clock: FakeClock
) -> None:
    """A confirmed old original deleted by hand meanwhile is recorded pruned, not an error."""
    client, worker = await make_vision()
    frame = await upload(client, jpeg(640, 480))
    await worker.sync_pass()
    services_of(client).originals.path_for(frame["imageKey"]).unlink()
    clock.advance(timedelta(days=8).total_seconds())
    assert await worker.prune(7) == 1
    assert await worker.prune(7) == 0


async def test_a_pruned_original_is_not_pruned_again(make_vision: Make, clock: FakeClock) -> None:
    """Once deleted, an original is recorded as pruned and left out of later prunes."""
    client, worker = await make_vision()
    await upload(client, jpeg(640, 480))
    await worker.sync_pass()
    clock.advance(timedelta(days=8).total_seconds())
    assert await worker.prune(7) == 1
    pruned = await services_of(client).store.run(
        lambda db: db.execute("SELECT pruned_at FROM sync_images").fetchall()
    )
    assert [tuple(p) for p in pruned] == [(to_iso(clock.now()),)]
    assert await worker.prune(7) == 0


async def test_an_original_that_cannot_be_deleted_does_not_stop_the_others(
    make_vision: Make, clock: FakeClock
) -> None:
    """A confirmed original whose delete fails is skipped; the next one is still deleted."""
    client, worker = await make_vision()
    services = services_of(client)
    stuck = "00" * 32 + ".jpg"  # sorts first
    stuck_path = services.originals.path_for(stuck)
    stuck_path.mkdir(parents=True)  # a folder where the file should be: unlink fails
    await services.store.run(
        lambda db: outbox.mark_images(db, [stuck], "uploaded_at", to_iso(clock.now()))
    )
    frame = await upload(client, jpeg(640, 480))
    await worker.sync_pass()
    clock.advance(timedelta(days=8).total_seconds())
    assert await worker.prune(7) == 1
    assert not services.originals.path_for(frame["imageKey"]).exists()
    assert stuck_path.exists()
