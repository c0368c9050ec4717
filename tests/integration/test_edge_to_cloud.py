"""End to end: frames posted to a real edge daemon arrive in the real cloud API, with images.

The cloud runs as `studylens-cloud serve` on the test PostgreSQL with images in the S3-compatible
server; the edge is linked through the real device code flow.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from edge.sync import outbox
from tests.cloud.support import bearer, cloud_env, data_of, link_edge, running_cloud
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.support import AppClient, services_of, upload


async def drain(edge: AppClient) -> None:
    """Wait (at most 60 s) until the edge's worker has sent everything."""
    services = services_of(edge)
    assert services.sync is not None
    for _ in range(600):
        services.sync.wake()
        backlog = await services.store.run(outbox.backlog)
        if backlog.facts == 0 and backlog.images == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still pending: {backlog}")


async def test_frames_arrive_in_the_cloud_with_their_images(
    start_app: Any,
    openai_peer: Any,
    live_google: FakeGoogle,
    pg_database_url: str,
    s3_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Three frames become a session, events and segments in the cloud, originals in S3."""
    env = cloud_env(tmp_path / "cloud", live_google, s3_settings, database_url=pg_database_url)
    async with running_cloud(env) as [cloud]:
        edge = await start_app(
            openai_api_key=SecretStr("sk-test"),
            openai_base_url=openai_peer.base_url,
            sync_idle_seconds=0.2,
        )
        services = services_of(edge)
        student = await link_edge(
            cloud.base_url, live_google, services.settings.data_dir, services.clock
        )
        frames = [jpeg(640, 480, seed=n) for n in range(3)]
        posted = [await upload(edge, frame) for frame in frames]
        await drain(edge)
        async with httpx.AsyncClient(base_url=cloud.base_url) as http:
            me = bearer(student["accessToken"])
            sessions = data_of(
                await http.get("/api/sessions?from=2026-11-01&to=2026-11-30", headers=me)
            )
            day = data_of(await http.get("/api/topic/daily?date=2026-11-25", headers=me))
            images = []
            for answer in posted:
                sha = answer["imageKey"].split(".")[0]
                redirect = await http.get(f"/api/images/{sha}", headers=me)
                assert redirect.status_code == 307, redirect.text
                images.append((await http.get(redirect.headers["location"])).content)
    assert [s["sessionId"] for s in sessions["sessions"]] == [posted[0]["sessionId"]]
    assert sessions["sessions"][0]["totalAnalyses"] == 3
    assert day["totalAnalyses"] == 3
    assert images == frames
