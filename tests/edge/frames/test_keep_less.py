"""Keep less: frames without their image on disk, analyses without the page's text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from edge.sync import outbox
from tests.fakes import images
from tests.fakes.openai_peer import DEFAULT_ANALYSIS, FakeOpenAI
from tests.support import AppClient, StartApp, services_of, upload


async def frame_client(start_app: StartApp, peer: FakeOpenAI, **changes: Any) -> AppClient:
    """The edge app with its vision port at the fake OpenAI peer, and `changes` to settings."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=peer.base_url,
        vision_timeout_seconds=5,
        **changes,
    )


async def event_rows(client: AppClient) -> list[dict[str, Any]]:
    """All learning events."""
    return await services_of(client).store.run(
        lambda db: list(db.query("select * from learning_events"))
    )


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder`."""
    return [path for path in folder.rglob("*") if path.is_file()]


async def test_without_keep_originals_the_image_never_touches_the_disk(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """keep_originals = false: the analysis is kept, no original is written, no key is stored."""
    client = await frame_client(start_app, openai_peer, keep_originals=False)
    data_dir = services_of(client).settings.data_dir
    before = set(files_under(data_dir))
    data = images.jpeg(640, 480)
    answer = await upload(client, data)
    assert answer["analysis"]["topic"] == "Biology"
    (row,) = await event_rows(client)
    assert row["image_key"] is None
    new = set(files_under(data_dir)) - before
    # Only the database's own files may have changed; nothing holds the image's bytes.
    assert all(path.read_bytes().find(data[:64]) == -1 for path in new)
    assert not services_of(client).originals.path_for(answer["imageKey"]).exists()


async def test_without_keep_originals_sync_sends_no_image(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """The outbox holds the event, and no image is waiting to be uploaded."""
    client = await frame_client(start_app, openai_peer, keep_originals=False)
    await upload(client, images.jpeg(640, 480))
    store = services_of(client).store
    waiting = await store.run(lambda db: outbox.images_to_upload(db, 10))
    facts = await store.run(lambda db: outbox.pending_facts(db, 100))
    assert waiting == []
    assert "learning_event" in {fact.kind for fact in facts}


async def test_with_keep_originals_the_image_is_kept(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """The default keeps the image under its key and queues it for the cloud."""
    client = await frame_client(start_app, openai_peer)
    await upload(client, images.jpeg(640, 480))
    (row,) = await event_rows(client)
    store = services_of(client).store
    assert row["image_key"] is not None
    assert services_of(client).originals.path_for(row["image_key"]).exists()
    assert await store.run(lambda db: outbox.images_to_upload(db, 10)) == [row["image_key"]]


async def test_without_store_extracted_text_the_page_text_is_not_kept(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """store_extracted_text = false: the phone still gets the text, the event row does not."""
    client = await frame_client(start_app, openai_peer, store_extracted_text=False)
    answer = await upload(client, images.jpeg(640, 480))
    assert answer["analysis"]["extractedText"] == DEFAULT_ANALYSIS["extractedText"]
    (row,) = await event_rows(client)
    stored = json.loads(row["analysis_json"])
    assert stored["extractedText"] == ""
    assert stored["topic"] == "Biology"  # the rest of the analysis is kept


async def test_by_default_the_page_text_is_kept(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """The default stores the model's extractedText with the analysis."""
    client = await frame_client(start_app, openai_peer)
    await upload(client, images.jpeg(640, 480))
    (row,) = await event_rows(client)
    assert json.loads(row["analysis_json"])["extractedText"] == DEFAULT_ANALYSIS["extractedText"]
