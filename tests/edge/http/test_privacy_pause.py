"""Pause over HTTP and the CLI: frames refused with 423 and nothing kept, state in /healthz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.http import frames as frames_routes
from edge.privacy.pause import MAX_MINUTES, read_state
from edge.settings import EdgeSettings
from edge.store import open_database
from edge.sync.build import original_store
from shared.clock import to_iso
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import (
    AppClient,
    FakeClock,
    StartApp,
    data_of,
    error_of,
    form,
    services_of,
    upload,
)

PAUSE = "/api/privacy/pause"
RESUME = "/api/privacy/resume"


async def health_pause(client: AppClient) -> Any:
    """The `pause` member of /healthz."""
    return (await data_of(await client.get("/healthz")))["pause"]


async def stored_events(client: AppClient) -> int:
    """Rows in the learning events table."""
    rows = await services_of(client).store.run(
        lambda db: db.execute("SELECT count(*) AS n FROM learning_events").fetchone()
    )
    return int(rows["n"])


def originals(settings: EdgeSettings) -> list[Path]:
    """Files in the originals folder."""
    root = original_store(settings).root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_phone_pauses_for_minutes_and_healthz_shows_the_end(
    client: AppClient, clock: FakeClock
) -> None:
    """A phone's token may pause; the answer and /healthz carry the end time."""
    assert await health_pause(client) == {"paused": False, "since": None, "endsAt": None}

    state = await data_of(await client.post(PAUSE, json={"minutes": 15}))

    ends = to_iso(clock.now() + timedelta(minutes=15))
    assert state == {"paused": True, "since": to_iso(clock.now()), "endsAt": ends}
    assert await health_pause(client) == state


async def test_the_owner_pauses_until_resumed_then_resumes(owner: AppClient) -> None:
    """The computer's own browser may pause with no end, and resume."""
    state = await data_of(await owner.post(PAUSE, json={"minutes": None}))
    assert state["paused"] is True
    assert state["endsAt"] is None
    assert (await health_pause(owner))["paused"] is True

    resumed = await data_of(await owner.post(RESUME))

    assert resumed == {"paused": False, "since": None, "endsAt": None}
    assert (await health_pause(owner))["paused"] is False


async def test_resume_when_not_paused_answers_the_state(client: AppClient) -> None:
    """Resuming twice is fine: each answers "not paused"."""
    for _ in range(2):
        assert (await data_of(await client.post(RESUME, json={})))["paused"] is False


async def test_pausing_again_keeps_the_start_and_moves_the_end(
    client: AppClient, clock: FakeClock
) -> None:
    """A second pause while paused re-times it; it started when the first did."""
    first = await data_of(await client.post(PAUSE, json={"minutes": 5}))
    clock.advance(60)

    second = await data_of(await client.post(PAUSE, json={"minutes": None}))

    assert second["since"] == first["since"]
    assert second["endsAt"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"minutes": -5},
        {"minutes": 0},
        {"minutes": 1.5},
        {"minutes": 5.0},
        {"minutes": "15"},
        {"minutes": True},
        {"minutes": MAX_MINUTES + 1},
        {"minutes": 10**30},
        {"minutes": [15]},
        {},
        {"minutes": 15, "minute": 15},
        {"minute": 15},
        [15],
        15,
        None,
    ],
    ids=repr,
)
async def test_bad_pause_bodies_are_400_and_do_not_pause(client: AppClient, body: Any) -> None:
    """Negative, zero, fractional, text, boolean, too long, missing, extra, not an object: 400."""
    error = await error_of(await client.post(PAUSE, json=body), 400)

    assert error["code"] == "invalid_request"
    assert (await health_pause(client))["paused"] is False


@pytest.mark.parametrize("raw", [b"", b"{not json", b"  "])
async def test_a_missing_or_broken_body_is_400(client: AppClient, raw: bytes) -> None:
    """No body at all, or not JSON: 400 in the envelope."""
    response = await client.post(PAUSE, data=raw, headers={"Content-Type": "application/json"})

    error = await error_of(response, 400)
    assert error["code"] in ("invalid_request", "invalid_json")
    assert (await health_pause(client))["paused"] is False


async def test_the_longest_pause_is_a_day(client: AppClient) -> None:
    """1440 minutes is accepted (1441 is not, above)."""
    state = await data_of(await client.post(PAUSE, json={"minutes": MAX_MINUTES}))
    assert state["paused"] is True


async def test_resume_refuses_fields(client: AppClient) -> None:
    """Resume takes no fields: one sent by mistake is 400, and the pause stays."""
    await data_of(await client.post(PAUSE, json={"minutes": None}))

    error = await error_of(await client.post(RESUME, json={"minutes": 5}), 400)

    assert error["code"] == "invalid_request"
    assert (await health_pause(client))["paused"] is True


async def test_a_frame_while_paused_is_423_and_nothing_of_it_is_kept(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """423 `paused`; no event row, no original on disk, no request to the model."""
    await data_of(await vision_client.post(PAUSE, json={"minutes": 30}))

    response = await vision_client.post("/api/upload-and-analyze", data=form(jpeg(640, 480)))

    error = await error_of(response, 423)
    assert error["code"] == "paused"
    assert await stored_events(vision_client) == 0
    assert originals(settings) == []
    assert openai_peer.requests == []


async def test_a_paused_upload_is_refused_before_its_body_is_read(client: AppClient) -> None:
    """Even a body announced as far too large is answered 423, not 413: nothing was read."""
    await data_of(await client.post(PAUSE, json={"minutes": 30}))
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(10**9)}

    response = await client.post("/api/upload-and-analyze", data=b"", headers=headers)

    assert (await error_of(response, 423))["code"] == "paused"


async def test_a_pause_that_begins_while_a_frame_arrives_refuses_it(
    vision_client: AppClient,
    openai_peer: FakeOpenAI,
    settings: EdgeSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Paused after the handler's first look but before the body is in: 423, nothing kept."""
    reading = asyncio.Event()
    real_read = frames_routes.read_image

    async def read_image(request: Any, max_bytes: int) -> bytes:
        reading.set()
        return await real_read(request, max_bytes)

    monkeypatch.setattr(frames_routes, "read_image", read_image)
    paused = asyncio.Event()
    boundary = "pausetest"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
        'filename="f.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        await paused.wait()
        yield jpeg(640, 480) + f"\r\n--{boundary}--\r\n".encode()

    sending = asyncio.create_task(
        vision_client.post(
            "/api/upload-and-analyze",
            data=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    )
    async with asyncio.timeout(5):
        await reading.wait()
    await services_of(vision_client).pause.pause(None)
    paused.set()

    assert (await error_of(await sending, 423))["code"] == "paused"
    assert await stored_events(vision_client) == 0
    assert originals(settings) == []
    assert openai_peer.requests == []


async def test_frames_flow_again_after_resume(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """After resume the same frame is analysed, stored and kept (the test above is not vacuous)."""
    await data_of(await vision_client.post(PAUSE, json={"minutes": None}))
    await data_of(await vision_client.post(RESUME))

    await upload(vision_client, jpeg(640, 480))

    assert await stored_events(vision_client) == 1
    assert len(originals(settings)) == 1
    assert len(openai_peer.requests) == 1


async def test_the_pause_ends_by_itself_when_its_minutes_are_up(
    vision_client: AppClient, clock: FakeClock
) -> None:
    """On the daemon's clock: paused a second before the end, not at the end."""
    await data_of(await vision_client.post(PAUSE, json={"minutes": 10}))
    clock.advance(10 * 60 - 1)
    assert (await health_pause(vision_client))["paused"] is True
    await error_of(await vision_client.post("/api/upload-and-analyze", data=form(jpeg())), 423)

    clock.advance(1)

    assert (await health_pause(vision_client))["paused"] is False
    await upload(vision_client, jpeg(640, 480))


async def test_the_pause_survives_a_restart(start_app: StartApp, clock: FakeClock) -> None:
    """A second daemon on the same data dir starts paused, with the same end."""
    first = await start_app()
    paused = await data_of(await first.post(PAUSE, json={"minutes": 60}))
    await first.close()

    second = await start_app()

    assert await health_pause(second) == paused
    error = await error_of(await second.post("/api/upload-and-analyze", data=form(jpeg())), 423)
    assert error["code"] == "paused"


async def test_pause_and_resume_are_announced_on_the_live_stream(
    client: AppClient, clock: FakeClock
) -> None:
    """The dashboard's event bus gets `pause` when paused, resumed, and when a pause runs out."""
    bus = services_of(client).events
    with bus.subscribe() as stream:
        await data_of(await client.post(PAUSE, json={"minutes": 5}))
        paused = await stream.next(5.0)
        await data_of(await client.post(RESUME))
        resumed = await stream.next(5.0)
        await data_of(await client.post(PAUSE, json={"minutes": 5}))
        again = await stream.next(5.0)
        clock.advance(5 * 60)
        await services_of(client).pause.check()  # what the daemon's once-a-second task runs
        ended = await stream.next(5.0)

    seen = [(e.kind, e.data["paused"]) if e else None for e in (paused, resumed, again, ended)]
    assert seen == [("pause", True), ("pause", False), ("pause", True), ("pause", False)]
    assert paused is not None
    assert paused.data["endsAt"] is not None


async def test_the_cli_pauses_the_running_daemon_and_resumes_it(
    client: AppClient,
    settings: EdgeSettings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`studylens-edge pause --minutes 20` holds for the daemon's next frame; `resume` ends it."""
    monkeypatch.setattr("edge.cli.privacy.SystemClock", lambda: clock)
    runner = CliRunner()
    data_dir = str(settings.data_dir)

    paused = runner.invoke(cli_app, ["pause", "--minutes", "20", "--data-dir", data_dir])

    assert paused.exit_code == 0, paused.output
    assert "Paused until" in paused.output
    assert (await health_pause(client))["paused"] is True
    await error_of(await client.post("/api/upload-and-analyze", data=form(jpeg())), 423)

    resumed = runner.invoke(cli_app, ["resume", "--data-dir", data_dir])

    assert resumed.exit_code == 0, resumed.output
    assert "Resumed" in resumed.output
    assert (await health_pause(client))["paused"] is False


@pytest.mark.parametrize("minutes", ["0", "-3", "1441", "ten", "2.5"])
def test_the_cli_refuses_bad_minutes(
    settings: EdgeSettings, clock: FakeClock, minutes: str
) -> None:
    """Out of range or not a whole number: usage error (exit 2), nothing paused."""
    runner = CliRunner()
    data_dir = str(settings.data_dir)

    result = runner.invoke(cli_app, ["pause", "--minutes", minutes, "--data-dir", data_dir])

    assert result.exit_code == 2, result.output
    with closing(open_database(settings.database_path)) as db:
        assert read_state(db, clock.now()).paused is False


def test_the_cli_pause_without_minutes_lasts_until_resume(settings: EdgeSettings) -> None:
    """No --minutes: paused until resumed, and the CLI says how to end it."""
    runner = CliRunner()
    data_dir = str(settings.data_dir)

    result = runner.invoke(cli_app, ["pause", "--data-dir", data_dir])

    assert result.exit_code == 0, result.output
    assert "studylens-edge resume" in result.output
    again = runner.invoke(cli_app, ["resume", "--data-dir", data_dir])
    assert "Resumed" in again.output
    twice = runner.invoke(cli_app, ["resume", "--data-dir", data_dir])
    assert twice.exit_code == 0
    assert "Not paused" in twice.output
