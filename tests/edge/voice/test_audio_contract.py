"""Contracts of the pure audio stages that the broader audio tests leave open.

Each test pins one behaviour at a boundary: overshoot on one side only, a resampler flushed with
nothing pending, a second stream after a flush, the dtype of decoded PCM16, and the framer's
remainder at end of stream.
"""

from __future__ import annotations

import base64

import numpy as np
import numpy.typing as npt
import pytest
import samplerate  # type: ignore[import-not-found]  # no stubs

from edge.voice.audio import (
    Framer,
    InboundAudio,
    decode_phone_frame,
    make_resampler,
    pcm16_to_float,
)


def wave(n: int) -> npt.NDArray[np.float32]:
    """`n` samples of a quiet sine, well inside [-1, 1]."""
    return (0.3 * np.sin(np.arange(n) / 5)).astype(np.float32)


def decoded_samples(chunks: list[str]) -> list[int]:
    """The number of PCM16 samples in each base64 chunk."""
    return [len(base64.b64decode(chunk)) // 2 for chunk in chunks]


def test_overshoot_above_one_alone_is_clamped() -> None:
    """A frame whose minimum is in range but whose maximum exceeds +1 is still clamped to +1."""
    data = np.array([-0.5, 0.25, 2.0], dtype="<f4").tobytes()
    assert decode_phone_frame(data, 64).tolist() == [-0.5, 0.25, 1.0]


def test_libsamplerate_flush_of_an_empty_stream_is_an_empty_float32_array() -> None:
    """Flushing a libsamplerate stream that was fed nothing returns zero float32 samples."""
    tail = make_resampler("libsamplerate").flush()
    assert len(tail) == 0
    assert tail.dtype == np.float32


def test_libsamplerate_second_stream_after_flush_has_exact_length() -> None:
    """After a flush, the next stream again yields exactly 1.5x its input (counters restart)."""
    resampler = make_resampler("libsamplerate")
    samples = wave(320)
    for _stream in range(2):
        out = len(resampler.process(samples))
        out += len(resampler.flush())
        assert out == 480


def test_pcm16_to_float_returns_float32() -> None:
    """PCM16 decodes to float32 samples, the dtype the rest of the pipeline works in."""
    samples = pcm16_to_float(b"\x00\x40\x00\xc0")
    assert samples.dtype == np.float32
    assert samples.tolist() == [0.5, -0.5]


def test_inbound_flush_sends_the_framer_remainder_last() -> None:
    """At end of stream the part-frame remainder is sent as a final, shorter base64 chunk."""
    inbound = InboundAudio(resampler=make_resampler(), frame_ms=20)
    chunks = inbound.feed(wave(330).astype("<f4").tobytes()) + inbound.flush()
    # 330 input samples -> 495 at 24 kHz: one 20 ms chunk of 480 and a remainder of 15.
    assert decoded_samples(chunks) == [480, 15]


@pytest.mark.parametrize(("quality", "converter"), [(None, "sinc_medium"), ("linear", "linear")])
def test_libsamplerate_runs_the_chosen_converter(quality: str | None, converter: str) -> None:
    """Libsamplerate is sinc_medium unless a quality is chosen: libsamplerate's own output."""
    samples = wave(3_200)
    ours = make_resampler("libsamplerate", quality=quality).process(samples)
    theirs = samplerate.Resampler(converter, channels=1).process(samples, 1.5)
    assert np.array_equal(ours, theirs)


def test_a_framer_of_zero_ms_is_refused() -> None:
    """Frames of no length cannot cut anything: a ValueError, not a division by zero later."""
    with pytest.raises(ValueError, match="0 ms"):
        Framer(frame_ms=0)


def test_a_framer_of_one_ms_at_24_khz_cuts_48_byte_frames() -> None:
    """One millisecond is a whole number of samples at 24 kHz, so it is a valid frame."""
    assert Framer(frame_ms=1).push(b"\x00" * 100) == [b"\x00" * 48, b"\x00" * 48]
