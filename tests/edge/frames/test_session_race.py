"""A frame whose session ends while the model runs: refused, and stored events match totals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI, Reply
from tests.support import AppClient, data_of, error_of, form, services_of, start_session


async def counted_events(client: AppClient, session_id: str) -> int:
    """Stored events of a session that count as analyses (failed frames do not)."""
    rows = await services_of(client).store.run(
        lambda db: list(
            db.query(
                "select id from learning_events where session_id = ? and outcome != 'failed'",
                [session_id],
            )
        )
    )
    return len(rows)


class Race:
    """An upload held inside the model call while the test ends its session."""

    def __init__(self, client: AppClient, peer: FakeOpenAI) -> None:
        self.client, self.peer = client, peer
        self.release = asyncio.Event()
        self.upload: asyncio.Task[ClientResponse] | None = None

    async def hold_upload(self, headers: dict[str, str]) -> None:
        """Post a frame and return once the model has it and waits."""
        self.peer.queue(Reply(hold=self.release))
        self.upload = asyncio.ensure_future(
            self.client.post("/api/upload-and-analyze", data=form(images.jpeg()), headers=headers)
        )
        await self.peer.holding.wait()

    async def finish(self) -> ClientResponse:
        """Let the model answer and return the upload's response."""
        assert self.upload is not None
        self.release.set()
        return await self.upload


@pytest.fixture
async def race(vision_client: AppClient, openai_peer: FakeOpenAI) -> AsyncIterator[Race]:
    """The race set up on the vision client; a held upload is always released."""
    held = Race(vision_client, openai_peer)
    yield held
    if held.upload is not None and not held.upload.done():
        (await held.finish()).release()


async def end(client: AppClient, session_id: str) -> Any:
    """End a session over HTTP and return its totals."""
    return await data_of(await client.post(f"/api/session/{session_id}/end"))


async def test_frame_for_a_session_ended_during_the_model_call_is_a_conflict(
    vision_client: AppClient, race: Race
) -> None:
    """The upload answers 409 session_not_active, not 200 with an uncounted analysisId."""
    session_id = await start_session(vision_client)
    await race.hold_upload({"X-Session-Id": session_id})
    await end(vision_client, session_id)

    error = await error_of(await race.finish(), 409)

    assert error["code"] == "session_not_active"


async def test_frame_refused_after_the_end_leaves_events_and_totals_agreeing(
    vision_client: AppClient, race: Race
) -> None:
    """Neither the ended session's totals nor its stored events include the late frame."""
    session_id = await start_session(vision_client)
    await race.hold_upload({"X-Session-Id": session_id})
    ended = await end(vision_client, session_id)
    await race.finish()

    stats = await data_of(await vision_client.get(f"/api/session/{session_id}/topic-stats"))
    assert (await counted_events(vision_client, session_id), stats["totalAnalyses"]) == (0, 0)
    assert ended["totalAnalyses"] == 0


async def test_frame_for_the_running_session_ended_during_the_model_call_is_a_conflict(
    vision_client: AppClient, race: Race
) -> None:
    """Without X-Session-Id the frame was for the session running on arrival: also 409."""
    session_id = await start_session(vision_client)
    await race.hold_upload({})
    await end(vision_client, session_id)

    error = await error_of(await race.finish(), 409)

    assert error["code"] == "session_not_active"


async def test_refused_late_frame_runs_no_hooks(vision_client: AppClient, race: Race) -> None:
    """The sync and dashboard hooks never hear of a frame that was refused."""
    seen: list[object] = []

    async def recording(event: object) -> None:
        seen.append(event)

    services_of(vision_client).frames.add_hook("sync", recording)
    session_id = await start_session(vision_client)
    await race.hold_upload({"X-Session-Id": session_id})
    await end(vision_client, session_id)
    await race.finish()

    assert seen == []
