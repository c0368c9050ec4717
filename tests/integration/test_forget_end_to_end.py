"""End to end: what the student forgets on the edge leaves the real cloud too (PostgreSQL and S3).

The cloud runs as `studylens-cloud serve` on the test PostgreSQL with images in the S3-compatible
server; the edge is linked through the real device code flow and syncs with its own worker.
After each forget, every row of every cloud table and the listing of the student's bucket prefix
are searched for what was forgotten, and compared with what was there before for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from cloud.db.models import Base
from cloud.images import user_prefix
from cloud.services import s3_client
from cloud.settings import CloudSettings
from edge.cli import app as cli_app
from edge.privacy.forget import ForgetScope
from edge.sync import outbox
from tests.cloud.support import bearer, cloud_env, free_port, link_edge, running_cloud
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.integration.test_edge_to_cloud import drain
from tests.support import AppClient, data_of, services_of, start_session, upload

Rows = dict[str, list[dict[str, Any]]]


async def cloud_rows(database_url: str) -> Rows:
    """Every row of every cloud table, values as text."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            found: Rows = {}
            for table in Base.metadata.sorted_tables:
                result = await conn.execute(select(table))
                found[table.name] = [
                    {key: None if value is None else str(value) for key, value in row.items()}
                    for row in result.mappings()
                ]
            return found
    finally:
        await engine.dispose()


def bucket_keys(s3: dict[str, Any], prefix: str) -> list[str]:
    """The keys under `prefix` in the test bucket."""
    client = s3_client(CloudSettings(**s3))
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3["s3_bucket"], Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def mentions(rows: Rows, needles: set[str]) -> list[tuple[str, str]]:
    """(table, value) for each cell that is or contains one of `needles`."""
    return [
        (table, value)
        for table, found in rows.items()
        for row in found
        for value in row.values()
        if value is not None and any(needle in value for needle in needles)
    ]


def without(rows: Rows, needles: set[str]) -> Rows:
    """The rows that mention none of `needles`."""
    return {
        table: [row for row in found if not mentions({table: [row]}, needles)]
        for table, found in rows.items()
    }


def fact_tables(rows: Rows) -> Rows:
    """Only the tables of synced facts and images (devices and tokens change on their own)."""
    names = {"study_sessions", "learning_events", "topic_segments", "bookmarks", "cards"}
    return {
        table: rows[table] for table in (*sorted(names), "help_requests", "review_logs", "images")
    }


class Studying:
    """An edge linked to a running cloud, with two sessions of frames synced."""

    def __init__(self, edge: AppClient, student: dict[str, Any], first: list[Any], second: Any):
        self.edge = edge
        self.student = student
        self.first = first  # the upload answers of the session to forget
        self.second = second

    @property
    def forgotten(self) -> set[str]:
        """The session's id, its frames' ids and the hashes of its originals."""
        ids = {self.first[0]["sessionId"]} | {a["analysisId"] for a in self.first}
        return ids | {a["imageKey"].split(".")[0] for a in self.first}


@contextlib.asynccontextmanager
async def cloud_at(
    port: int, google: FakeGoogle, s3: dict[str, Any], database_url: str, folder: Path
) -> AsyncIterator[str]:
    """A `studylens-cloud serve` on `port`, the same database and bucket each time."""
    env = cloud_env(folder, google, s3, database_url=database_url)
    async with running_cloud(env, port=port) as [cloud]:
        yield cloud.base_url


async def study(start_app: Any, openai_peer: Any, cloud_url: str, google: FakeGoogle) -> Studying:
    """Link a fresh edge and sync two sessions: one of two frames, one of one frame."""
    edge = await start_app(
        openai_api_key=SecretStr("sk-test"),
        openai_base_url=openai_peer.base_url,
        sync_idle_seconds=0.2,
    )
    services = services_of(edge)
    student = await link_edge(cloud_url, google, services.settings.data_dir, services.clock)
    first_id = await start_session(edge)
    first = [await upload(edge, jpeg(640, 480, seed=n), first_id) for n in (1, 2)]
    await data_of(await edge.post(f"/api/session/{first_id}/end"))
    await services.card_worker.idle()  # the ended session's cards, synced with the rest
    second = await upload(edge, jpeg(640, 480, seed=3), await start_session(edge))
    await drain(edge)
    return Studying(edge, student, first, second)


async def test_a_forgotten_session_leaves_no_row_or_object_in_the_cloud(
    start_app: Any,
    openai_peer: Any,
    live_google: FakeGoogle,
    pg_database_url: str,
    s3_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    """No cell of any table and no key names it; the other session is all still there."""
    async with cloud_at(
        free_port(), live_google, s3_settings, pg_database_url, tmp_path / "cloud"
    ) as url:
        studying = await study(start_app, openai_peer, url, live_google)
        prefix = user_prefix(studying.student["userId"])
        before, keys_before = await cloud_rows(pg_database_url), bucket_keys(s3_settings, prefix)
        assert mentions(before, studying.forgotten)  # it was there
        assert before["cards"]  # with the cards made when it ended

        await services_of(studying.edge).forget.forget(
            ForgetScope(session_id=studying.first[0]["sessionId"])
        )
        await drain(studying.edge)

        after = await cloud_rows(pg_database_url)
    assert mentions(after, studying.forgotten) == []
    assert fact_tables(after) == fact_tables(without(before, studying.forgotten))
    kept = studying.second["imageKey"].split(".")[0]
    assert bucket_keys(s3_settings, prefix) == [k for k in keys_before if kept in k]
    assert len(keys_before) == 3


async def test_forgetting_while_offline_completes_when_the_cloud_is_back(
    start_app: Any,
    openai_peer: Any,
    live_google: FakeGoogle,
    pg_database_url: str,
    s3_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    """The cloud is down when the student forgets everything; back up, it deletes it all."""
    port = free_port()
    folder = tmp_path / "cloud"
    async with cloud_at(port, live_google, s3_settings, pg_database_url, folder) as url:
        studying = await study(start_app, openai_peer, url, live_google)
    forget = services_of(studying.edge).forget

    report = await forget.forget(ForgetScope(all=True))
    waiting = await forget.pending_deletions()

    async with cloud_at(port, live_google, s3_settings, pg_database_url, folder):
        await drain(studying.edge)
        after = await cloud_rows(pg_database_url)
    assert report.cards > 0  # the first session's, made when it ended
    # Sessions, frames, segments, images, and the cards (never graded: no review logs).
    assert (report.sessions, report.review_logs) == (2, 0)
    assert waiting == 2 + 3 + 2 + 3 + report.cards
    assert {table: rows for table, rows in fact_tables(after).items() if rows} == {}
    assert bucket_keys(s3_settings, user_prefix(studying.student["userId"])) == []


async def test_a_deleted_account_unlinks_its_edge_and_sync_status_says_so(
    start_app: Any,
    openai_peer: Any,
    live_google: FakeGoogle,
    pg_database_url: str,
    s3_settings: dict[str, Any],
    tmp_path: Path,
    hermetic_env: None,
) -> None:
    """After `DELETE /api/me` the edge's next sync is refused (401) and the CLI explains it."""
    async with cloud_at(
        free_port(), live_google, s3_settings, pg_database_url, tmp_path / "cloud"
    ) as url:
        studying = await study(start_app, openai_peer, url, live_google)
        async with httpx.AsyncClient(base_url=url) as http:
            deleted = await http.delete("/api/me", headers=bearer(studying.student["accessToken"]))
        assert deleted.status_code == 200, deleted.text
        services = services_of(studying.edge)
        await upload(studying.edge, jpeg(640, 480, seed=4))
        state = await unlinked_state(studying.edge)

    result = CliRunner().invoke(
        cli_app, ["sync", "status", "--data-dir", str(services.settings.data_dir)]
    )
    assert state.startswith("unlinked: the cloud refused")
    assert result.exit_code == 0, result.output
    assert "its account was deleted or this device was revoked" in result.output
    assert "pending facts:   " in result.output


async def unlinked_state(edge: AppClient) -> str:
    """Wake the edge's worker until it records that the cloud refused it (at most 30 s)."""
    services = services_of(edge)
    assert services.sync is not None
    for _ in range(300):
        services.sync.wake()
        error = (await services.store.run(outbox.get_state)).get("last_error", "")
        if error.startswith("unlinked"):
            return error
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker never saw the refusal; last error: {error!r}")
