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
HELD_BACK_MS = 1  # rounding: the default resampler holds nothing back
# Phone frame sizes in samples at 16 kHz: 10, 20, 32 and 100 ms, and odd ones in turn (a real
# phone's audio tap rarely delivers exactly 20 ms).
FRAME_SIZES: dict[str, tuple[int, ...]] = {
    "10ms": (160,),
    "20ms": (320,),
    "32ms": (512,),
    "100ms": (1600,),
    "odd": (317, 5, 1203, 64, 441),
}


async def through_relay(
    client: AppClient, peer: FakeRealtime, freq: float, sizes: tuple[int, ...] = (320,)
) -> np.ndarray:
    """Send a tone as phone frames of `sizes`; the steady-state samples the peer received."""
    peer.speech_threshold = 1e9  # no VAD events, no answers: audio only
    sent_ms = SECONDS * 1000
    async with client.ws_connect("/ws") as ws:
        await started(ws)
        await send_audio(ws, tone(freq, SECONDS, LEVEL), sizes)
        # All of it arrives without waiting for more audio.
        await peer.wait_for(lambda: len(peer.audio) >= (sent_ms - HELD_BACK_MS) * BYTES_PER_MS)
        await ws.send_json({"type": "stop"})
        await read_until(ws, lambda g: g.closed)
    return peer_samples(peer)[SKIP:]


@pytest.mark.parametrize("freq", [1000.0, 7000.0])
async def test_a_tone_arrives_with_a_sinad_of_at_least_90_db(
    voice_client: AppClient, realtime_peer: FakeRealtime, freq: float
) -> None:
    """1 kHz and 7 kHz at -6 dBFS arrive at 24 kHz PCM16 with SINAD >= 90 dB (PCM16: ~92)."""
    samples = await through_relay(voice_client, realtime_peer, freq)
    assert sinad_db(samples, freq) >= 90.0


@pytest.mark.parametrize("freq", [1000.0, 7000.0])
async def test_a_tone_arrives_at_its_level(
    voice_client: AppClient, realtime_peer: FakeRealtime, freq: float
) -> None:
    """The tone keeps its amplitude (no gain or loss through resampling and PCM16)."""
    samples = await through_relay(voice_client, realtime_peer, freq)
    fit = sine_fit(samples, freq, MODEL_RATE)
    amplitude = float(np.sqrt(2 * np.mean(fit**2)))
    assert amplitude == pytest.approx(LEVEL, rel=0.01)


@pytest.mark.parametrize("sizes", FRAME_SIZES.values(), ids=FRAME_SIZES.keys())
@pytest.mark.parametrize("freq", [1000.0, 7000.0])
async def test_no_discontinuity_at_frame_boundaries(
    voice_client: AppClient, realtime_peer: FakeRealtime, freq: float, sizes: tuple[int, ...]
) -> None:
    """No step between samples exceeds the tone's own, and no sample strays from the sine."""
    samples = await through_relay(voice_client, realtime_peer, freq, sizes)
    steepest = 2 * LEVEL * np.sin(np.pi * freq / MODEL_RATE)  # largest step of the sampled sine
    lsb = 1 / 32768
    assert np.max(np.abs(np.diff(samples))) <= steepest * 1.001 + 4 * lsb
    residual = samples - sine_fit(samples, freq, MODEL_RATE)
    # A dropped, repeated or reset chunk would leave a spike of thousands of LSB at a seam.
    assert np.max(np.abs(residual)) < 16 * lsb
