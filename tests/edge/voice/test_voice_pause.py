"""Pause and the voice socket: open sockets hear `paused` and close, new ones are refused."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.settings import EdgeSettings
from tests.edge.voice.voice_support import Received, has, next_event, read_until, started
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, FakeClock, data_of

PAUSE = "/api/privacy/pause"


def closed_after_paused(got: Received) -> None:
    """`paused`, then `closing` paused, then the socket closed."""
    kinds = [e["type"] for e in got.events]
    assert "paused" in kinds, got.events
    assert got.of("closing") == [{"type": "closing", "reason": "paused"}], got.events
    assert kinds.index("paused") < kinds.index("closing")
    assert got.closed


async def test_a_talking_socket_hears_paused_and_closes(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """A socket in conversation gets `paused` (with the end) and `closing: paused`."""
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        state = await data_of(await voice_client.post(PAUSE, json={"minutes": 5}))

        got = await read_until(ws, lambda g: g.closed)

    closed_after_paused(got)
    assert got.of("paused")[0]["endsAt"] == state["endsAt"]


async def test_a_socket_not_yet_started_hears_paused_and_closes(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """A socket still waiting for `start` is closed too, with `endsAt` null for no end."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_bytes(b"\x00" * 1280)  # audio before start: proves the daemon is serving it
        await next_event(ws, "error")
        await data_of(await voice_client.post(PAUSE, json={"minutes": None}))

        got = await read_until(ws, lambda g: g.closed)

    closed_after_paused(got)
    assert got.of("paused")[0]["endsAt"] is None
    assert realtime_peer.connections == 0


async def test_a_new_socket_while_paused_is_refused_without_a_model_call(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """`start` while paused: `error` paused and `closing` paused; no Realtime session opens."""
    await data_of(await voice_client.post(PAUSE, json={"minutes": 30}))

    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start"})
        got = await read_until(ws, lambda g: g.closed)

    assert [e["type"] for e in got.events] == ["error", "closing"], got.events
    assert got.events[0]["code"] == "paused"
    assert got.events[1]["reason"] == "paused"
    assert got.closed
    assert realtime_peer.connections == 0


async def test_after_resume_a_new_socket_talks_again(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """Resume lifts the refusal: the next socket gets `ready` (the refusal above is real)."""
    await data_of(await voice_client.post(PAUSE, json={"minutes": 30}))
    await data_of(await voice_client.post("/api/privacy/resume"))

    async with voice_client.ws_connect("/ws") as ws:
        ready = await started(ws)

    assert ready["type"] == "ready"


async def test_a_pause_from_the_cli_closes_an_open_socket(
    voice_client: AppClient,
    realtime_peer: FakeRealtime,
    settings: EdgeSettings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI writes the data dir; the daemon's once-a-second look closes the socket."""
    monkeypatch.setattr("edge.cli.privacy.SystemClock", lambda: clock)
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)

        result = CliRunner().invoke(cli_app, ["pause", "--data-dir", str(settings.data_dir)])
        got = await read_until(ws, has("closing"), within=5.0)
        got = await read_until(ws, lambda g: g.closed, got)

    assert result.exit_code == 0, result.output
    closed_after_paused(got)
