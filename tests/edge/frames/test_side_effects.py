"""Side effects of an analysed frame fail alone: the student still gets the analysis, 200."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from edge.frames import records
from edge.frames.originals import OriginalStore
from edge.frames.records import FrameEvent
from edge.sessions import records as session_records
from tests.fakes import images
from tests.fakes.openai_peer import DEFAULT_ANALYSIS, FakeOpenAI
from tests.support import (
    AppClient,
    FakeClock,
    data_of,
    durations,
    metrics_text,
    services_of,
    upload,
)

PIPELINE_LOG = "edge.frames.pipeline"


async def failure_count(client: AppClient, effect: str) -> str | None:
    """The side-effect failure counter line for `effect` in /metrics, if any."""
    text = metrics_text(client)
    prefix = f'studylens_side_effect_failures_total{{effect="{effect}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return lines[0].removeprefix(prefix) if lines else None


def logged_failure(caplog: pytest.LogCaptureFixture, effect: str) -> bool:
    """Whether the pipeline logged a failure of `effect` with its traceback."""
    return any(
        r.name == PIPELINE_LOG
        and r.levelno >= logging.ERROR
        and repr(effect) in r.getMessage()
        and r.exc_info is not None
        for r in caplog.records
    )


async def event_rows(client: AppClient) -> list[dict[str, Any]]:
    """All learning events."""
    return await services_of(client).store.run(
        lambda db: list(db.query("select * from learning_events"))
    )


async def test_event_write_failure_still_answers_without_id(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing event write gives 200 with the analysis and analysisId null."""

    def broken(db: object, event: FrameEvent) -> str:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(records, "insert_event", broken)
    data = await upload(vision_client, images.jpeg())
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert data["analysisId"] is None


async def test_event_write_failure_is_counted_and_logged(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing event write shows in /metrics as effect="event" and in the log."""

    def broken(db: object, event: FrameEvent) -> str:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(records, "insert_event", broken)
    await upload(vision_client, images.jpeg())
    assert await failure_count(vision_client, "event") == "1.0"
    assert logged_failure(caplog, "event")


async def test_analysis_id_is_the_stored_event(vision_client: AppClient) -> None:
    """Without faults, analysisId is the id of the event row written for the frame."""
    data = await upload(vision_client, images.jpeg())
    [row] = await event_rows(vision_client)
    assert row["id"] == data["analysisId"]
    assert row["outcome"] == "analysed"
    assert row["image_key"] == data["imageKey"]


async def test_tracker_failure_still_answers_without_id(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing topic tracker gives 200 with the analysis; no event is stored, so no id."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tracker exploded")

    monkeypatch.setattr(services_of(vision_client).sessions, "track", broken)
    data = await upload(vision_client, images.jpeg())
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert data["analysisId"] is None


async def test_tracker_failure_is_counted_and_logged(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing tracker shows in /metrics as effect="event" (they are one write) and in the log."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tracker exploded")

    monkeypatch.setattr(services_of(vision_client).sessions, "track", broken)
    await upload(vision_client, images.jpeg())
    assert await failure_count(vision_client, "event") == "1.0"
    assert logged_failure(caplog, "event")


async def test_event_write_failure_leaves_the_frame_uncounted(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event that could not be stored is not in the session's totals either."""

    def broken(db: object, event: FrameEvent) -> str:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(records, "insert_event", broken)
    data = await upload(vision_client, images.jpeg())
    stats = await data_of(await vision_client.get(f"/api/session/{data['sessionId']}/topic-stats"))
    assert (len(await event_rows(vision_client)), stats["totalAnalyses"]) == (0, 0)


async def test_segment_write_failure_stores_no_event(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame whose count could not be stored leaves no event row behind."""

    def broken(db: object, segments: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(session_records, "save_segments", broken)
    await upload(vision_client, images.jpeg())
    assert await event_rows(vision_client) == []


async def test_hook_failure_still_answers(vision_client: AppClient) -> None:
    """A failing frame hook gives 200 with the analysis."""

    async def failing(event: FrameEvent) -> None:
        raise RuntimeError("voice relay gone")

    services_of(vision_client).frames.add_hook("boom", failing)
    data = await upload(vision_client, images.jpeg())
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert data["analysisId"]


async def test_hook_failure_is_counted_and_logged(
    vision_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing hook shows in /metrics as effect="hook:boom" and in the log."""

    async def failing(event: FrameEvent) -> None:
        raise RuntimeError("voice relay gone")

    services_of(vision_client).frames.add_hook("boom", failing)
    await upload(vision_client, images.jpeg())
    assert await failure_count(vision_client, "hook:boom") == "1.0"
    assert logged_failure(caplog, "hook:boom")


async def test_failing_hook_does_not_stop_the_next_hook(vision_client: AppClient) -> None:
    """A hook after a failing one still receives the frame's event."""
    seen: list[FrameEvent] = []

    async def failing(event: FrameEvent) -> None:
        raise RuntimeError("voice relay gone")

    async def recording(event: FrameEvent) -> None:
        seen.append(event)

    services_of(vision_client).frames.add_hook("boom", failing)
    services_of(vision_client).frames.add_hook("sync", recording)
    data = await upload(vision_client, images.jpeg())
    [event] = seen
    assert event.event_id == data["analysisId"]
    assert event.image_key == data["imageKey"]
    assert event.outcome == "analysed"


async def test_original_save_failure_still_answers(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing write of the original gives 200 with the analysis."""

    def broken(self: OriginalStore, key: str, data: bytes) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(OriginalStore, "save", broken)
    data = await upload(vision_client, images.jpeg())
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert data["analysisId"]


async def test_original_save_failure_is_counted_and_logged(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing original write shows in /metrics as effect="original" and in the log."""

    def broken(self: OriginalStore, key: str, data: bytes) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(OriginalStore, "save", broken)
    await upload(vision_client, images.jpeg())
    assert await failure_count(vision_client, "original") == "1.0"
    assert logged_failure(caplog, "original")


async def test_no_failures_counted_for_a_clean_frame(vision_client: AppClient) -> None:
    """A frame whose side effects all succeed adds no failure counts."""
    await upload(vision_client, images.jpeg())
    text = metrics_text(vision_client)
    assert "studylens_side_effect_failures_total{" not in text


async def test_successful_frames_are_tracked(
    vision_client: AppClient, openai_peer: FakeOpenAI, clock: FakeClock
) -> None:
    """Biology, then Math 30 s later: the session's topic stats show Biology 30 s."""
    first = await upload(vision_client, images.jpeg(seed=1))
    session_id = first["sessionId"]
    clock.advance(30)
    openai_peer.analysis = {**DEFAULT_ANALYSIS, "topic": "Math", "subtopic": "Algebra"}
    second = await upload(vision_client, images.jpeg(seed=2), session_id)
    assert second["reused"] is False
    assert second["analysis"]["topic"] == "Math"
    stats = await data_of(await vision_client.get(f"/api/session/{session_id}/topic-stats"))
    assert durations(stats) == [("Biology", 30), ("Math", 0)]
    assert stats["totalAnalyses"] == 2


async def test_hook_failing_before_it_awaits_still_answers(vision_client: AppClient) -> None:
    """A hook that raises when called, before returning its awaitable, still gives 200."""

    def failing(event: FrameEvent) -> Awaitable[None]:
        raise RuntimeError("relay queue full")

    services_of(vision_client).frames.add_hook("eager", failing)
    data = await upload(vision_client, images.jpeg())
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert await failure_count(vision_client, "hook:eager") == "1.0"
