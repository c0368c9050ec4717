"""Opt-in recording: a voice session's input and output as WAV files in the data dir."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from tests.edge.voice.voice_support import (
    BYTES_PER_MS,
    has,
    read_until,
    send_audio,
    silence,
    start_voice_app,
    started,
    tone,
)
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient, StartApp

SPEECH_SECONDS = 0.6
PAUSE_SECONDS = 0.5


async def converse(client: AppClient, peer: FakeRealtime) -> tuple[str, int]:
    """Speak, hear the whole answer, stop; the session id and the answer's length in bytes."""
    async with client.ws_connect("/ws") as ws:
        ready = await started(ws)
        await send_audio(ws, np.concatenate([tone(440, SPEECH_SECONDS), silence(PAUSE_SECONDS)]))
        got = await read_until(ws, has("transcript", role="assistant", final=True))
        await read_until(ws, lambda g: len(g.audio) >= peer.reply_audio_ms * BYTES_PER_MS, got)
        await ws.send_json({"type": "stop"})
        await read_until(ws, lambda g: g.closed, got)
    return str(ready["sessionId"]), len(got.audio)


def wav_facts(path: Path) -> tuple[int, int, int, int]:
    """(channels, sample width, rate, frames) of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()


async def test_recording_writes_input_and_output_wavs_named_by_session(
    start_app: StartApp, realtime_peer: FakeRealtime, data_dir: Path
) -> None:
    """With voice_record on: `<session>-...-input.wav` (16 kHz) and `-output.wav` (24 kHz)."""
    client = await start_voice_app(start_app, realtime_peer, voice_record=True)
    session_id, answer_bytes = await converse(client, realtime_peer)
    files = sorted((data_dir / "recordings").iterdir())
    assert len(files) == 2
    assert files[0].name.endswith("-input.wav")
    assert files[1].name.endswith("-output.wav")
    assert all(session_id in f.name for f in files)
    spoken = round((SPEECH_SECONDS + PAUSE_SECONDS) * 16_000)
    assert wav_facts(files[0]) == (1, 2, 16_000, spoken)
    assert wav_facts(files[1]) == (1, 2, 24_000, answer_bytes // 2)
    assert answer_bytes == realtime_peer.reply_audio_ms * BYTES_PER_MS


async def test_the_recording_holds_what_was_said(
    start_app: StartApp, realtime_peer: FakeRealtime, data_dir: Path
) -> None:
    """The input WAV is the student's tone and the output WAV the tutor's, sample for sample."""
    client = await start_voice_app(start_app, realtime_peer, voice_record=True)
    await converse(client, realtime_peer)
    [inputs] = (data_dir / "recordings").glob("*-input.wav")
    [outputs] = (data_dir / "recordings").glob("*-output.wav")
    with wave.open(str(inputs), "rb") as wav:
        said = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32768
    expected = np.concatenate([tone(440, SPEECH_SECONDS), silence(PAUSE_SECONDS)])
    assert np.max(np.abs(said - expected)) <= 1 / 32768
    with wave.open(str(outputs), "rb") as wav:
        heard = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert 0.29 < np.max(np.abs(heard)) / 32767 < 0.31  # the peer's 440 Hz at 0.3


async def test_nothing_is_recorded_by_default(
    voice_client: AppClient, realtime_peer: FakeRealtime, data_dir: Path
) -> None:
    """Recording is opt-in: without voice_record no recordings folder appears."""
    await converse(voice_client, realtime_peer)
    assert not (data_dir / "recordings").exists()
