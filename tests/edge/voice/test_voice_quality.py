"""Audio quality through the whole relay: phone Float32 16 kHz in, PCM16 24 kHz at the model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.edge.voice.voice_support import (
    BYTES_PER_MS,
    MODEL_RATE,
    peer_samples,
    read_until,
    send_audio,
    sinad_db,
    sine_fit,
    started,
    tone,
)
from tests.fakes.realtime_peer import FakeRealtime
from tests.support import AppClient

LEVEL = 0.5
SECONDS = 1.0
SKIP = MODEL_RATE // 100  # the first 10 ms: the resampler's start-up transient
CHUNK = MODEL_RATE // 50  # 20 ms at 24 kHz, one input_audio_buffer.append


async def through_relay(client: AppClient, peer: FakeRealtime, freq: float) -> np.ndarray:
    """Send a tone as 20 ms phone frames; the steady-state samples the peer received."""
    peer.speech_threshold = 1e9  # no VAD events, no answers: audio only
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await send_audio(ws, tone(freq, SECONDS, LEVEL))
        # soxr's block processing and the 20 ms framer hold back about 40 ms at the end.
        await peer.wait_for(lambda: len(peer.audio) >= (SECONDS * 1000 - 60) * BYTES_PER_MS)
        await ws.send_json({"type": "stop"})
        await read_until(ws, lambda g: g.closed)
    samples = peer_samples(peer)
    assert len(samples) % CHUNK == 0  # whole 20 ms chunks only
    return samples[SKIP:]


@pytest.mark.parametrize("freq", [1000.0, 7000.0])
async def test_a_tone_arrives_with_a_sinad_of_at_least_70_db(
    voice_client: AppClient, realtime_peer: FakeRealtime, freq: float
) -> None:
    """1 kHz and 7 kHz at -6 dBFS arrive at 24 kHz PCM16 with SINAD >= 70 dB."""
    samples = await through_relay(voice_client, realtime_peer, freq)
    assert sinad_db(samples, freq) >= 70.0


@pytest.mark.parametrize("freq", [1000.0, 7000.0])
async def test_a_tone_arrives_at_its_level(
    voice_client: AppClient, realtime_peer: FakeRealtime, freq: float
) -> None:
    """The tone keeps its amplitude (no gain or loss through resampling and PCM16)."""
    samples = await through_relay(voice_client, realtime_peer, freq)
    fit = sine_fit(samples, freq, MODEL_RATE)
    amplitude = float(np.sqrt(2 * np.mean(fit**2)))
    assert amplitude == pytest.approx(LEVEL, rel=0.01)


@pytest.mark.parametrize("freq", [1000.0, 7000.0])
async def test_no_discontinuity_at_frame_boundaries(
    voice_client: AppClient, realtime_peer: FakeRealtime, freq: float
) -> None:
    """No step between samples exceeds the tone's own, and no sample strays from the sine."""
    samples = await through_relay(voice_client, realtime_peer, freq)
    steepest = 2 * LEVEL * np.sin(np.pi * freq / MODEL_RATE)  # largest step of the sampled sine
    lsb = 1 / 32768
    assert np.max(np.abs(np.diff(samples))) <= steepest * 1.001 + 4 * lsb
    residual = samples - sine_fit(samples, freq, MODEL_RATE)
    # A dropped, repeated or reset chunk would leave a spike of thousands of LSB at a seam.
    assert np.max(np.abs(residual)) < 16 * lsb
