"""The context bridge: what the camera sees steers the tutor through `session.update`."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tests.edge.voice.voice_support import (
    KEY,
    has,
    metric,
    read_until,
    started,
)
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, StartApp, metrics_text, upload


def analysis(topic: str, subtopic: str | None, text: str = "") -> dict[str, Any]:
    """What the fake vision model answers for the next frames."""
    studying = topic not in ("Other", "Unknown")
    return {
        "isStudying": studying,
        "isActive": True,
        "isDistracted": not studying,
        "topic": topic,
        "subtopic": subtopic,
        "extractedText": text,
    }


async def app_with_eyes_and_ears(
    start_app: StartApp,
    openai_peer: FakeOpenAI,
    realtime_peer: FakeRealtime,
    interval: float = 0.0,
) -> AppClient:
    """The daemon with vision on the fake Responses API and voice on the fake Realtime API."""
    key: SecretStr = KEY
    return await start_app(
        openai_api_key=key,
        openai_base_url=openai_peer.base_url,
        realtime_url=realtime_peer.websocket_base_url,
        vision_timeout_seconds=5,
        voice_context_interval_seconds=interval,
    )


def context_updates(peer: FakeRealtime) -> list[str]:
    """Instructions of the context refreshes (every session.update after the first)."""
    return [u["instructions"] for u in peer.session_updates[1:]]


async def see(
    client: AppClient, peer: FakeOpenAI, seed: int, topic: str, subtopic: str | None
) -> None:
    """Upload a distinct frame that the vision model reads as `topic`."""
    peer.analysis = analysis(topic, subtopic, f"page {seed} about {topic}")
    await upload(client, jpeg(320, 240, seed=seed))


async def test_new_topics_refresh_the_tutors_instructions_newest_first(
    start_app: StartApp, openai_peer: FakeOpenAI, realtime_peer: FakeRealtime
) -> None:
    """Biology then Math on camera: two session.updates, the second naming Math before Biology."""
    client = await app_with_eyes_and_ears(start_app, openai_peer, realtime_peer)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await see(client, openai_peer, 1, "Biology", "Cell division")
        await realtime_peer.wait_for(lambda: len(context_updates(realtime_peer)) == 1)
        await see(client, openai_peer, 2, "Math", "Algebra")
        await realtime_peer.wait_for(lambda: len(context_updates(realtime_peer)) == 2)
    first, second = context_updates(realtime_peer)
    assert "Biology / Cell division" in first
    assert "Math" not in first
    assert second.index("Math / Algebra") < second.index("Biology / Cell division")
    assert "page 2 about Math" in second
    assert realtime_peer.session_updates[1] == {"type": "realtime", "instructions": first}


async def test_the_same_topic_again_sends_no_update(
    start_app: StartApp, openai_peer: FakeOpenAI, realtime_peer: FakeRealtime
) -> None:
    """A second page of the same topic and subtopic does not refresh the tutor."""
    client = await app_with_eyes_and_ears(start_app, openai_peer, realtime_peer)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await see(client, openai_peer, 1, "Biology", "Cells")
        await see(client, openai_peer, 2, "Biology", "Cells")
        await see(client, openai_peer, 3, "Chemistry", None)  # a marker that must arrive
        await realtime_peer.wait_for(lambda: len(context_updates(realtime_peer)) == 2)
    assert ["Chemistry" in u for u in context_updates(realtime_peer)] == [False, True]


async def test_other_and_unknown_topics_send_no_update(
    start_app: StartApp, openai_peer: FakeOpenAI, realtime_peer: FakeRealtime
) -> None:
    """Frames read as Other or Unknown never steer the tutor."""
    client = await app_with_eyes_and_ears(start_app, openai_peer, realtime_peer)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await see(client, openai_peer, 1, "Video games", None)  # normalised to Other
        await see(client, openai_peer, 2, "Unknown", None)
        await see(client, openai_peer, 3, "Math", None)  # a marker that must arrive
        await realtime_peer.wait_for(lambda: len(context_updates(realtime_peer)) == 1)
        await ws.send_json({"type": "stop"})
        await read_until(ws, has("closing"))
    [update] = context_updates(realtime_peer)
    assert "- now: Math" in update
    for stray in ("Other", "Unknown", "Video games"):
        assert stray not in update


async def test_context_refreshes_are_throttled(
    start_app: StartApp, openai_peer: FakeOpenAI, realtime_peer: FakeRealtime
) -> None:
    """Two topics inside the interval make one refresh carrying both, after the interval."""
    client = await app_with_eyes_and_ears(start_app, openai_peer, realtime_peer, interval=0.5)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await see(client, openai_peer, 1, "Biology", None)
        await see(client, openai_peer, 2, "Math", None)
        await realtime_peer.wait_for(lambda: len(context_updates(realtime_peer)) == 1, within=2)
        await ws.send_json({"type": "stop"})
        await read_until(ws, lambda g: g.closed, within=2)
    [update] = context_updates(realtime_peer)
    assert update.index("Math") < update.index("Biology")


async def test_frames_without_a_voice_session_are_a_no_op_then_steer_the_next_one(
    start_app: StartApp, openai_peer: FakeOpenAI, realtime_peer: FakeRealtime
) -> None:
    """Uploads with no live tutor fail nothing; the next tutor starts with that context."""
    client = await app_with_eyes_and_ears(start_app, openai_peer, realtime_peer)
    await see(client, openai_peer, 1, "History", "French Revolution")
    assert realtime_peer.connections == 0
    text = metrics_text(client)
    assert metric(text, "studylens_side_effect_failures_total", effect="hook:voice") is None
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        [opening] = realtime_peer.session_updates
    assert "- now: History / French Revolution" in opening["instructions"]
