"""WS /ws under faults: bad frames, bad messages, a vanishing phone, a failing model link."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import edge.voice.relay
import edge.voice.service
from tests.edge.voice.voice_support import (
    BYTES_PER_MS,
    Received,
    eventually,
    has,
    metric,
    next_event,
    peer_samples,
    read_until,
    send_audio,
    start_voice_app,
    started,
    tone,
)
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, StartApp, data_of, metrics_text, services_of, start_session

QUIET = 1e9  # a peer speech threshold no audio reaches: no speech events, no responses


# --- configuration and control messages ---------------------------------------------------------


async def test_without_a_key_the_socket_says_voice_not_configured_and_closes(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No OpenAI key: `error` voice_not_configured, `closing`, then a clean close."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = await start_app(openai_api_key=None)
    async with client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start"})
        got = await read_until(ws, lambda g: g.closed)
        assert [e["type"] for e in got.events] == ["error", "closing"]
        assert got.events[0]["code"] == "voice_not_configured"
        assert got.events[1]["reason"] == "voice_not_configured"
        assert got.close_code == 1000
    assert (await client.get("/healthz")).status == 200


async def test_audio_before_start_is_answered_with_not_started(
    voice_client: AppClient,
) -> None:
    """A binary frame before `start` gets `error` not_started; `start` still works after."""
    async with voice_client.ws_connect("/ws") as ws:
        await send_audio(ws, tone(440, 0.02))
        error = await next_event(ws, "error")
        assert error["code"] == "not_started"
        assert (await started(ws))["type"] == "ready"


@pytest.mark.parametrize("when", ["before_start", "after_start"])
async def test_text_garbage_is_a_bad_message_and_the_socket_stays_usable(
    voice_client: AppClient, realtime_peer: FakeRealtime, when: str
) -> None:
    """Garbage text gets `error` bad_message; the conversation carries on."""
    realtime_peer.speech_threshold = QUIET
    async with voice_client.ws_connect("/ws") as ws:
        if when == "after_start":
            await started(ws)
        await ws.send_str("hello?{")
        error = await next_event(ws, "error")
        assert error["code"] == "bad_message"
        if when == "before_start":
            await started(ws)
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) > 0)


async def test_a_playback_report_before_start_is_ignored(voice_client: AppClient) -> None:
    """`playback` before `start` gets no answer; `start` then works."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "playback", "playedMs": 100})
        await ws.send_json({"type": "start"})
        got = await read_until(ws, has("ready"))
    assert [e["type"] for e in got.events] == ["ready"]


async def test_a_socket_that_never_starts_is_closed_with_no_start(
    voice_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `start` within the start timeout: `closing` no_start and the socket closes."""
    monkeypatch.setattr(edge.voice.service, "START_TIMEOUT_SECONDS", 0.2)
    async with voice_client.ws_connect("/ws") as ws:
        got = await read_until(ws, lambda g: g.closed)
    assert got.of("closing") == [{"type": "closing", "reason": "no_start"}]


async def test_start_twice_is_already_started(voice_client: AppClient) -> None:
    """A second `start` gets `error` already_started and changes nothing."""
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await ws.send_json({"type": "start"})
        error = await next_event(ws, "error")
        assert error["code"] == "already_started"


async def test_stop_says_closing_stopped_and_closes(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """`stop` after `start`: `closing` stopped, a clean close, the model link is closed."""
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await ws.send_json({"type": "stop"})
        got = await read_until(ws, lambda g: g.closed)
        assert got.of("closing") == [{"type": "closing", "reason": "stopped"}]
        assert got.close_code == 1000
    await eventually(lambda: realtime_peer.current.ws.closed)
    assert services_of(voice_client).voice.live == 0


async def test_stop_before_start_closes_without_a_model_session(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """`stop` as the first message: `closing` stopped and no Realtime connection at all."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "stop"})
        got = await read_until(ws, lambda g: g.closed)
        assert got.of("closing") == [{"type": "closing", "reason": "stopped"}]
    assert realtime_peer.connections == 0


async def test_an_unknown_session_id_is_session_not_found(voice_client: AppClient) -> None:
    """`start` naming a session that does not exist: `error` session_not_found, `closing`."""
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start", "sessionId": "no-such-session"})
        got = await read_until(ws, lambda g: g.closed)
        assert [(e["type"], e.get("code"), e.get("reason")) for e in got.events] == [
            ("error", "session_not_found", None),
            ("closing", None, "session_not_found"),
        ]


async def test_an_ended_session_id_is_session_not_active(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """`start` naming an ended session: `error` session_not_active, `closing`, no model link."""
    session_id = await start_session(voice_client)
    await data_of(await voice_client.post(f"/api/session/{session_id}/end"))
    async with voice_client.ws_connect("/ws") as ws:
        await ws.send_json({"type": "start", "sessionId": session_id})
        got = await read_until(ws, lambda g: g.closed)
        assert [(e["type"], e.get("code"), e.get("reason")) for e in got.events] == [
            ("error", "session_not_active", None),
            ("closing", None, "session_not_active"),
        ]
    assert realtime_peer.connections == 0


async def test_start_with_the_running_session_id_uses_it(voice_client: AppClient) -> None:
    """`start` naming the running session opens the tutor for that session."""
    session_id = await start_session(voice_client)
    async with voice_client.ws_connect("/ws") as ws:
        ready = await started(ws, sessionId=session_id)
        assert ready["sessionId"] == session_id


# --- bad audio frames ---------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [b"\x00" * 5, b"\x00" * 6, b"\x00\x00\x80"], ids=["5", "6", "3"])
async def test_a_frame_of_partial_samples_is_refused_and_the_relay_keeps_going(
    voice_client: AppClient, realtime_peer: FakeRealtime, frame: bytes
) -> None:
    """A frame not a multiple of 4 bytes: `error` bad_audio_frame; later audio still arrives."""
    realtime_peer.speech_threshold = QUIET
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await ws.send_bytes(frame)
        error = await next_event(ws, "error")
        assert error["code"] == "bad_audio_frame"
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)
    text = metrics_text(voice_client)
    assert metric(text, "studylens_voice_bad_frames_total") == 1.0


async def test_an_empty_frame_is_refused_and_the_relay_keeps_going(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """An empty binary frame: `error` bad_audio_frame; later audio still arrives."""
    realtime_peer.speech_threshold = QUIET
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await ws.send_bytes(b"")
        error = await next_event(ws, "error")
        assert error["code"] == "bad_audio_frame"
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)


async def test_nan_and_infinite_samples_are_accepted_as_silence(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """NaN/±Inf frames are no error: they arrive as silence and leave the resampler clean."""
    realtime_peer.speech_threshold = QUIET
    bad = np.array([np.nan, np.inf, -np.inf, np.nan] * 80, dtype="<f4")  # 20 ms
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        for _ in range(10):
            await ws.send_bytes(bad.tobytes())
        await send_audio(ws, tone(440, 0.3, level=0.25))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 400 * BYTES_PER_MS)
        await ws.send_json({"type": "stop"})
        got = await read_until(ws, lambda g: g.closed)
    assert got.of("error") == []
    samples = peer_samples(realtime_peer)
    assert np.all(np.abs(samples[: 150 * 24]) < 1e-3)  # the NaN/Inf frames: silence
    assert 0.24 < np.max(np.abs(samples)) < 0.26  # the tone, unharmed by them


async def test_a_frame_over_the_frame_limit_but_within_the_socket_limit_is_refused(
    start_app: StartApp, realtime_peer: FakeRealtime
) -> None:
    """A frame larger than voice_max_frame_bytes: `error` bad_audio_frame; the relay goes on."""
    realtime_peer.speech_threshold = QUIET
    client = await start_voice_app(start_app, realtime_peer, voice_max_frame_bytes=6400)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await ws.send_bytes(np.zeros(1601, "<f4").tobytes())  # 6404 bytes
        error = await next_event(ws, "error")
        assert error["code"] == "bad_audio_frame"
        assert "6404" in error["message"]
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)


async def test_a_frame_over_the_socket_limit_closes_that_socket_only(
    start_app: StartApp, realtime_peer: FakeRealtime
) -> None:
    """A frame above the socket's message limit closes the socket (1009); the daemon lives on."""
    client = await start_voice_app(start_app, realtime_peer, voice_max_frame_bytes=6400)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await ws.send_bytes(b"\x00" * (6400 + 4096 + 4))
        got = await read_until(ws, lambda g: g.closed)
        assert got.close_code == 1009
    await eventually(lambda: services_of(client).voice.live == 0)
    assert (await client.get("/healthz")).status == 200
    async with client.ws_connect("/ws") as again:
        await started(again)


# --- the phone or the model going away ------------------------------------------------------------


async def test_the_phone_vanishing_mid_response_cleans_up(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """Closing the phone socket while the tutor speaks ends the relay and its model link."""
    realtime_peer.delta_interval = 0.02
    realtime_peer.reply_audio_ms = 3000
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        assert metric(metrics_text(voice_client), "studylens_voice_sessions") == 1.0
        await realtime_peer.respond()
        await read_until(ws, lambda g: len(g.audio) >= 100 * BYTES_PER_MS)
    metrics = services_of(voice_client).metrics
    await eventually(
        lambda: metric(metrics.exposition(), "studylens_voice_sessions") == 0.0, within=3
    )
    await eventually(lambda: realtime_peer.current.ws.closed)
    assert services_of(voice_client).voice.live == 0
    assert realtime_peer.response_active is False
    assert metric(metrics_text(voice_client), "studylens_voice_sessions") == 0.0
    assert (await voice_client.get("/healthz")).status == 200


async def test_the_phone_vanishing_while_the_tutor_is_silent_cleans_up(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """Closing the phone socket while nothing is sent to it still ends the relay and its link."""
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
    metrics = services_of(voice_client).metrics
    await eventually(
        lambda: metric(metrics.exposition(), "studylens_voice_sessions") == 0.0,
        within=3,
        what="the relay ended (studylens_voice_sessions 0)",
    )
    await eventually(lambda: realtime_peer.current.ws.closed, what="the model link closed")
    assert metric(metrics_text(voice_client), "studylens_voice_sessions") == 0.0


async def test_the_model_closing_with_1001_reconnects_with_instructions_and_context(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """A 1001 from the model: a new session with instructions and context; the phone talks on."""
    realtime_peer.speech_threshold = QUIET
    async with voice_client.ws_connect("/ws") as ws:
        ready = await started(ws)
        services_of(voice_client).voice.context(ready["sessionId"]).add(
            "Chemistry", "Redox", "oxidation is loss of electrons"
        )
        await realtime_peer.close_current(1001)
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) == 2)
        assert realtime_peer.connections == 2
        renewed = realtime_peer.session_updates[1]
        assert "study tutor" in renewed["instructions"]
        assert "Chemistry / Redox" in renewed["instructions"]
        assert renewed["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24_000}
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)
        await ws.send_json({"type": "stop"})
        got = await read_until(ws, lambda g: g.closed)
    assert got.of("closing") == [{"type": "closing", "reason": "stopped"}]
    assert got.of("ready") == []  # the phone was told `ready` once, before the reconnect
    lost = metric(metrics_text(voice_client), "studylens_voice_reconnects_total", reason="lost")
    assert lost == 1.0


async def test_the_session_is_renewed_before_the_providers_cap(
    start_app: StartApp, realtime_peer: FakeRealtime
) -> None:
    """Past voice_session_max_minutes the relay opens a new session on its own."""
    realtime_peer.speech_threshold = QUIET
    client = await start_voice_app(start_app, realtime_peer, voice_session_max_minutes=0.01)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await realtime_peer.wait_for(lambda: realtime_peer.connections >= 2, within=3)
        await realtime_peer.wait_for(lambda: len(realtime_peer.session_updates) >= 2)
        assert "study tutor" in realtime_peer.session_updates[1]["instructions"]
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)
        await ws.send_json({"type": "stop"})
        got = await read_until(ws, lambda g: g.closed)
    assert got.of("closing") == [{"type": "closing", "reason": "stopped"}]
    renewals = metric(metrics_text(client), "studylens_voice_reconnects_total", reason="renewal")
    assert renewals is not None
    assert renewals >= 1


async def test_a_model_link_that_keeps_failing_closes_with_model_unavailable(
    start_app: StartApp, realtime_peer: FakeRealtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model gone for good: `closing` model_unavailable after the allowed reconnects."""
    monkeypatch.setattr(edge.voice.relay, "RECONNECT_ATTEMPTS", 1)
    client = await start_voice_app(start_app, realtime_peer)
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await realtime_peer.stop()
        got = await read_until(ws, lambda g: g.closed, within=5)
    assert got.of("closing") == [{"type": "closing", "reason": "model_unavailable"}]
    assert services_of(client).voice.live == 0
    assert (await client.get("/healthz")).status == 200


async def test_a_model_error_event_is_passed_to_the_phone(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """An `error` from the model (other than a late cancel) reaches the phone as model_error."""
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await realtime_peer.send_event(
            {
                "type": "error",
                "event_id": "event_1",
                "error": {
                    "type": "server_error",
                    "code": "server_error",
                    "message": "The server had an error.",
                    "param": None,
                    "event_id": None,
                },
            }
        )
        error = await next_event(ws, "error")
    assert (error["code"], error["message"]) == ("model_error", "The server had an error.")


async def test_an_odd_model_event_does_not_end_the_conversation(
    voice_client: AppClient, realtime_peer: FakeRealtime
) -> None:
    """A malformed server event is counted and skipped; the relay keeps relaying."""
    realtime_peer.speech_threshold = QUIET
    async with voice_client.ws_connect("/ws") as ws:
        await started(ws)
        await realtime_peer.send_event(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "event_id": "event_1",
                "item_id": "item_1",
            },
            check=False,  # malformed on purpose
        )
        await send_audio(ws, tone(440, 0.2))
        await realtime_peer.wait_for(lambda: len(realtime_peer.audio) >= 100 * BYTES_PER_MS)
        got = Received()
        await ws.send_json({"type": "stop"})
        await read_until(ws, has("closing"), got)
    assert got.of("closing") == [{"type": "closing", "reason": "stopped"}]
    failures = metric(metrics_text(voice_client), "studylens_voice_event_failures_total")
    assert failures == 1.0


async def test_stopping_the_daemon_ends_live_voice_sessions(
    start_app: StartApp, realtime_peer: FakeRealtime
) -> None:
    """Closing the app with a tutor session open closes its model link; no relay task lives on."""
    client = await start_voice_app(start_app, realtime_peer)
    metrics = services_of(client).metrics
    ws = await client.ws_connect("/ws")
    await started(ws)
    await client.close()
    await eventually(
        lambda: realtime_peer.current.ws.closed, within=3, what="the model link closed"
    )
    await eventually(
        lambda: metric(metrics.exposition(), "studylens_voice_sessions") == 0.0,
        what="studylens_voice_sessions 0",
    )
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("voice:")] == []
