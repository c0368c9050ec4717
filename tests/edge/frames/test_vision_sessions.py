"""The frame path tells the analyser whose frame it is, and when that session ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.settings import HybridSettings
from edge.vision.hybrid import HybridVision
from edge.vision.port import ModelAnswer
from tests.edge.vision.test_hybrid import PAGE, CountingModel, ScriptedReading
from tests.fakes import images
from tests.fakes.openai_peer import DEFAULT_ANALYSIS
from tests.support import AppClient, StartApp, data_of, start_session, upload


class Recording:
    """A session-aware analyser that records what the pipeline told it."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []
        self.ended: list[str] = []

    async def analyse(self, jpeg: bytes, *, session: str | None = None) -> ModelAnswer:
        """The default analysis; the session it was asked for is recorded."""
        self.asked.append(session)
        return ModelAnswer(json.dumps(DEFAULT_ANALYSIS), "recorded")

    def end_session(self, session: str) -> None:
        """Record the end."""
        self.ended.append(session)

    async def close(self) -> None:
        """Nothing to release."""


async def daemon_with(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch, vision: object
) -> AppClient:
    """The daemon with `vision` as its analyser."""
    monkeypatch.setattr("edge.app.make_vision", lambda settings, metrics=None: vision)
    return await start_app()


async def test_each_frame_is_analysed_for_its_session_and_ends_are_told(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames name their session; a superseded and an ended session are both announced."""
    vision = Recording()
    client = await daemon_with(start_app, monkeypatch, vision)
    first = await start_session(client)
    await upload(client, images.jpeg(seed=1), first)
    second = await start_session(client)  # supersedes the first
    await upload(client, images.jpeg(seed=2), second)
    assert vision.asked == [first, second]
    assert vision.ended == [first]
    await data_of(await client.post(f"/api/session/{second}/end"))
    assert vision.ended == [first, second]


async def test_a_new_sessions_first_frame_goes_to_the_model_through_the_daemon(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same page read in a new session is the model's again, not the last session's."""
    model = CountingModel()
    policy = HybridSettings(max_frames=5, max_seconds=60, text_change=0.5)
    hybrid = HybridVision(ScriptedReading([PAGE] * 3, tmp_path), model, policy)
    client = await daemon_with(start_app, monkeypatch, hybrid)
    first = await start_session(client)
    answers = [await upload(client, images.jpeg(seed=n), first) for n in (1, 2)]
    assert [a["source"] for a in answers] == ["model-1", "model-1"]  # the page reused
    second = await start_session(client)
    answer = await upload(client, images.jpeg(seed=1), second)
    assert (model.calls, answer["source"], answer["reused"]) == (2, "model-2", False)
