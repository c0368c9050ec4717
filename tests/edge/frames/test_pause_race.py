"""A pause that begins while a frame is with the model: nothing of that frame is kept."""

from __future__ import annotations

import asyncio

from aiohttp import ClientResponse
from pydantic import SecretStr

from edge.frames.images import sniff
from edge.frames.originals import image_key
from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI, Reply
from tests.support import AppClient, StartApp, data_of, error_of, form, services_of, upload


async def held_upload(
    client: AppClient, peer: FakeOpenAI, data: bytes
) -> tuple[asyncio.Task[ClientResponse], asyncio.Event]:
    """Post `data` and return once the model has it and waits, with the event that frees it."""
    release = asyncio.Event()
    peer.queue(Reply(hold=release))
    posting = asyncio.ensure_future(client.post("/api/upload-and-analyze", data=form(data)))
    await peer.holding.wait()
    return posting, release


async def test_a_frame_with_the_model_when_the_pause_begins_is_refused_and_not_kept(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """423 `paused`, no event row, and its original gone from the disk."""
    data = images.jpeg(640, 480, seed=7)
    posting, release = await held_upload(vision_client, openai_peer, data)
    await data_of(await vision_client.post("/api/privacy/pause", json={"minutes": 10}))
    release.set()
    error = await error_of(await posting, 423)
    assert error["code"] == "paused"
    services = services_of(vision_client)
    rows = await services.store.run(lambda db: list(db.query("select id from learning_events")))
    assert rows == []
    assert not services.originals.path_for(image_key(data, sniff(data))).exists()


async def test_a_paused_frame_leaves_an_earlier_identical_frames_original(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """Originals are shared by content: the refused frame removes only what it wrote."""
    client = await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        dedupe_frames=False,  # the same bytes again go to the model, not to the gate
    )
    data = images.jpeg(640, 480, seed=8)
    kept = await upload(client, data)
    posting, release = await held_upload(client, openai_peer, data)
    await data_of(await client.post("/api/privacy/pause", json={"minutes": 10}))
    release.set()
    await error_of(await posting, 423)
    assert services_of(client).originals.path_for(kept["imageKey"]).exists()
