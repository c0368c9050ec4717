"""The relay's pure audio stages: phone frame validation, resampling, PCM16, framing, base64."""

from __future__ import annotations

import base64
import math

import numpy as np
import numpy.typing as npt
import pytest

from edge.voice.audio import (
    MODEL_RATE,
    PHONE_RATE,
    BadAudioFrame,
    Framer,
    InboundAudio,
    ResamplerKind,
    decode_phone_frame,
    make_resampler,
    pcm16_duration_ms,
    pcm16_to_float,
    to_pcm16,
)

# Output samples skipped at each end before measuring: the resampler's start-up transient
# (the filter rings as the tone starts from silence) and the end-of-stream tail (HQ soxr holds
# about 512 samples, libsamplerate's sinc_best about 215) are not steady state.
SKIP = MODEL_RATE // 10


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.5) -> npt.NDArray[np.float32]:
    """A sine at the phone's rate; -6 dBFS so neither end clips."""
    n = np.arange(round(seconds * PHONE_RATE))
    return (amplitude * np.sin(2 * np.pi * freq * n / PHONE_RATE)).astype(np.float32)


def phone_frames(samples: npt.NDArray[np.float32], frame_ms: int) -> list[bytes]:
    """Float32LE frames of `frame_ms`, as the phone sends them (the last may be short)."""
    size = PHONE_RATE * frame_ms // 1000
    return [samples[i : i + size].astype("<f4").tobytes() for i in range(0, len(samples), size)]


def phone_frames_of(samples: npt.NDArray[np.float32], sizes: list[int]) -> list[bytes]:
    """Float32LE frames of the given sample counts in turn, round and round, to the end."""
    frames, start, i = [], 0, 0
    while start < len(samples):
        size = sizes[i % len(sizes)]
        frames.append(samples[start : start + size].astype("<f4").tobytes())
        start, i = start + size, i + 1
    return frames


def through_inbound(
    samples: npt.NDArray[np.float32],
    frame_ms: int = 20,
    kind: ResamplerKind = "polyphase",
    quality: str | None = None,
) -> npt.NDArray[np.float32]:
    """Feed `samples` through InboundAudio frame by frame; the decoded 24 kHz output."""
    inbound = InboundAudio(resampler=make_resampler(kind, quality=quality))
    chunks: list[str] = []
    for frame in phone_frames(samples, frame_ms):
        chunks += inbound.feed(frame)
    chunks += inbound.flush()
    return pcm16_to_float(b"".join(base64.b64decode(chunk) for chunk in chunks))


def sinad_db(samples: npt.NDArray[np.float32], freq: float, rate: int = MODEL_RATE) -> float:
    """SINAD: power of the least-squares sine at `freq` over the power of everything else."""
    t = np.arange(len(samples)) / rate
    basis = np.column_stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)])
    coef = np.linalg.lstsq(basis, samples.astype(np.float64), rcond=None)[0]
    fit = basis @ coef
    residual = samples - fit
    return float(10 * np.log10(np.mean(fit**2) / np.mean(residual**2)))


# --- validation -------------------------------------------------------------------------------


def test_empty_frame_is_rejected() -> None:
    """An empty frame raises BadAudioFrame."""
    with pytest.raises(BadAudioFrame, match="Empty"):
        decode_phone_frame(b"", 64_000)


@pytest.mark.parametrize("length", [3, 5, 6])
def test_frame_not_whole_float32_samples_is_rejected(length: int) -> None:
    """A frame whose length is not a multiple of 4 raises BadAudioFrame."""
    with pytest.raises(BadAudioFrame, match="not a whole number"):
        decode_phone_frame(b"\x00" * length, 64_000)


def test_frame_over_max_is_rejected() -> None:
    """A frame one sample over the limit raises BadAudioFrame."""
    with pytest.raises(BadAudioFrame, match="over the limit"):
        decode_phone_frame(b"\x00" * 1284, 1280)


def test_frame_at_max_is_accepted() -> None:
    """A frame exactly at the limit is audio."""
    assert len(decode_phone_frame(b"\x00" * 1280, 1280)) == 320


def test_frame_is_decoded_little_endian() -> None:
    """Known Float32LE bytes decode to their values."""
    data = b"\x00\x00\x00\x3f" + b"\x00\x00\x80\xbe"  # 0.5, -0.25
    assert decode_phone_frame(data, 64_000).tolist() == [0.5, -0.25]


def test_nan_and_infinities_become_zero() -> None:
    """NaN, +Inf and -Inf are replaced by silence, finite samples kept."""
    data = np.array([np.nan, 0.25, np.inf, -np.inf, -0.5], dtype="<f4").tobytes()
    assert decode_phone_frame(data, 64_000).tolist() == [0.0, 0.25, 0.0, 0.0, -0.5]


def test_samples_are_clamped() -> None:
    """Samples beyond full scale are clamped to [-1, 1]."""
    data = np.array([1.5, -3.0, 1.0, -1.0, 1e30], dtype="<f4").tobytes()
    assert decode_phone_frame(data, 64_000).tolist() == [1.0, -1.0, 1.0, -1.0, 1.0]


# --- PCM16 ------------------------------------------------------------------------------------


def test_pcm16_known_bytes_little_endian() -> None:
    """Full scale, half scale and silence give the known int16 LE bytes; +1.0 clips to 32767."""
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0], dtype=np.float32)
    assert to_pcm16(samples) == b"\x00\x00" + b"\x00\x40" + b"\x00\xc0" + b"\xff\x7f" + b"\x00\x80"


def test_pcm16_rounds_to_nearest() -> None:
    """Samples round to the nearest step rather than truncating toward zero."""
    samples = np.array([0.7, -0.7, 0.3], dtype=np.float32) / np.float32(32_768)
    assert to_pcm16(samples) == b"\x01\x00" + b"\xff\xff" + b"\x00\x00"


def test_pcm16_clips_overshoot() -> None:
    """Resampler overshoot past full scale clips instead of wrapping around."""
    samples = np.array([1.2, -1.2], dtype=np.float32)
    assert to_pcm16(samples) == b"\xff\x7f" + b"\x00\x80"


def test_pcm16_round_trip_is_exact() -> None:
    """Every int16 value survives PCM16 -> float -> PCM16 unchanged."""
    data = np.arange(-32_768, 32_768, dtype="<i2").tobytes()
    assert to_pcm16(pcm16_to_float(data)) == data


def test_pcm16_to_float_scale() -> None:
    """Known PCM16LE bytes decode divided by 32768."""
    assert pcm16_to_float(b"\x00\x40\x00\x80\xff\x7f").tolist() == [0.5, -1.0, 32_767 / 32_768]


def test_pcm16_odd_length_is_rejected() -> None:
    """PCM16 bytes of odd length raise BadAudioFrame."""
    with pytest.raises(BadAudioFrame):
        pcm16_to_float(b"\x00\x00\x00")


def test_pcm16_duration() -> None:
    """960 bytes at 24 kHz and 640 bytes at 16 kHz both play for 20 ms."""
    assert pcm16_duration_ms(960) == 20.0
    assert pcm16_duration_ms(640, rate=16_000) == 20.0


# --- framing ----------------------------------------------------------------------------------


def test_framer_cuts_exact_frames_across_pushes() -> None:
    """Pushes of 500 bytes come out as 960-byte (20 ms at 24 kHz) frames, remainder kept."""
    framer = Framer()
    stream = bytes(range(256)) * 8  # 2048 distinct-ish bytes to check order
    pushes = [stream[i : i + 500] for i in range(0, len(stream), 500)]
    frames = [framer.push(chunk) for chunk in pushes]
    assert [[len(f) for f in out] for out in frames] == [[], [960], [], [960], []]
    rest = framer.flush()
    assert len(rest) == 2048 - 2 * 960
    assert b"".join(f for out in frames for f in out) + rest == stream


def test_framer_flush_empties() -> None:
    """After a flush the framer holds nothing: a second flush is empty."""
    framer = Framer(frame_ms=10)
    assert framer.push(b"\x00" * 1000) == [b"\x00" * 480, b"\x00" * 480]
    assert framer.flush() == b"\x00" * 40
    assert framer.flush() == b""


def test_framer_rejects_fractional_frame() -> None:
    """A frame length that is not a whole number of samples is refused."""
    with pytest.raises(ValueError, match="whole number"):
        Framer(rate=44_100, frame_ms=1)


# --- resampling -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["polyphase", "soxr", "libsamplerate"])
def test_resampler_output_is_one_and_a_half_times_input(kind: ResamplerKind) -> None:
    """500 frames of 20 ms give about 1.5x the samples, and exactly 1.5x with the tail."""
    resampler = make_resampler(kind)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 500 * 320).astype(np.float32)
    produced = sum(len(resampler.process(x[i : i + 320])) for i in range(0, len(x), 320))
    assert 0.99 * 1.5 * len(x) <= produced <= 1.5 * len(x)
    assert produced + len(resampler.flush()) == 1.5 * len(x)


@pytest.mark.parametrize("kind", ["polyphase", "soxr", "libsamplerate"])
@pytest.mark.parametrize("frame_ms", [20, 7, 13])
def test_frames_are_seamless(kind: ResamplerKind, frame_ms: int) -> None:
    """A 1 kHz tone in frames equals the same tone resampled in one block (no seam clicks)."""
    x = tone(1000)
    one_block = make_resampler(kind)
    whole = np.concatenate([one_block.process(x), one_block.flush()])
    expected = pcm16_to_float(to_pcm16(whole))
    got = through_inbound(x, frame_ms, kind)
    assert len(got) == len(expected) == 1.5 * len(x)
    assert np.max(np.abs(got - expected)) <= 1e-3


@pytest.mark.parametrize("freq", [1000, 7000])
def test_soxr_sinad_through_inbound_path(freq: int) -> None:
    """With soxr HQ, a tone through the whole inbound path keeps a SINAD of at least 70 dB."""
    out = through_inbound(tone(freq), kind="soxr")
    assert sinad_db(out[SKIP:-SKIP], freq) >= 70


@pytest.mark.parametrize("freq", [1000, 7000])
def test_polyphase_sinad_through_inbound_path_is_at_the_pcm16_floor(freq: int) -> None:
    """With the default resampler, a -6 dBFS tone keeps a SINAD of at least 90 dB after PCM16."""
    out = through_inbound(tone(freq))
    assert sinad_db(out[SKIP:-SKIP], freq) >= 90


def level_db(samples: npt.NDArray[np.float32], freq: float, rate: int = MODEL_RATE) -> float:
    """The level at `freq` in dB (Kaiser-windowed FFT, beta 20: sidelobes under -150 dB)."""
    window = np.kaiser(len(samples), 20)
    spectrum = np.abs(np.fft.rfft(samples * window))
    bin_ = round(freq * len(samples) / rate)
    return float(20 * np.log10(np.max(spectrum[bin_ - 3 : bin_ + 4]) + 1e-30))


def test_polyphase_image_of_7khz_at_9khz_is_under_minus_90_dbc() -> None:
    """The anti-imaging filter leaves the 9 kHz image of a 7 kHz tone 90 dB under the tone."""
    resampler = make_resampler("polyphase")
    out = resampler.process(tone(7000))[SKIP:-SKIP]
    assert level_db(out, 9000) - level_db(out, 7000) < -90


def test_polyphase_holds_nothing_back() -> None:
    """Whatever the frame size, every output sample whose time has arrived is out at once."""
    resampler = make_resampler("polyphase")
    rng = np.random.default_rng(3)
    arrived = produced = 0
    for size in rng.integers(1, 1_700, 400):
        produced += len(resampler.process(np.zeros(size, dtype=np.float32)))
        arrived += int(size)
        assert produced == math.ceil(arrived * 1.5)


@pytest.mark.parametrize(
    "sizes",
    [[160], [320], [512], [1600], [317, 5, 1203, 64], [1, 2, 3]],
    ids=["10ms", "20ms", "32ms", "100ms", "odd", "tiny"],
)
def test_polyphase_frames_match_one_block_to_the_sample(sizes: list[int]) -> None:
    """No click, gap or repeated sample at frame seams: frames give one block's output."""
    x = tone(1000) + tone(7000, amplitude=0.2)
    block = make_resampler("polyphase")
    expected = np.concatenate([block.process(x), block.flush()])
    framed = make_resampler("polyphase")
    frames = [np.frombuffer(f, "<f4").astype(np.float32) for f in phone_frames_of(x, sizes)]
    pieces = [framed.process(frame) for frame in frames]
    got = np.concatenate([*pieces, framed.flush()])
    assert len(got) == len(expected) == 1.5 * len(x)
    assert np.max(np.abs(got - expected)) < 1e-6


@pytest.mark.parametrize("position", [0, 1, 2, 159, 318, 319])
def test_a_click_comes_out_within_half_a_millisecond(position: int) -> None:
    """An impulse anywhere in a 20 ms frame peaks at its own time plus under 0.5 ms."""
    frame = np.zeros(320, dtype=np.float32)
    frame[position] = 0.5
    resampler = make_resampler("polyphase")
    resampler.process(np.zeros(3_200, dtype=np.float32))  # a stream already running
    out = np.concatenate([resampler.process(frame), resampler.process(np.zeros_like(frame))])
    lag_ms = (int(np.argmax(np.abs(out))) - position * 1.5) / MODEL_RATE * 1000
    assert 0 <= lag_ms < 0.5


# --- the inbound path -------------------------------------------------------------------------


def test_inbound_sends_each_phone_frame_as_it_arrives() -> None:
    """By default every phone frame yields one chunk: all of its audio, nothing held back."""
    inbound = InboundAudio(resampler=make_resampler())
    arrived = sent = 0
    for frame in phone_frames_of(tone(440, seconds=1.0), [160, 320, 512, 1600, 317]):
        chunks = inbound.feed(frame)
        assert len(chunks) == 1
        arrived += len(frame) // 4
        sent += len(base64.b64decode(chunks[0], validate=True)) // 2
        assert sent == math.ceil(arrived * 1.5)


def test_inbound_chunks_are_20ms_base64_when_framed() -> None:
    """With frame_ms=20, every chunk but the last is 20 ms of 24 kHz PCM16 (960 bytes)."""
    inbound = InboundAudio(resampler=make_resampler(), frame_ms=20)
    chunks: list[str] = []
    for frame in phone_frames(tone(440, seconds=0.5), 20):
        chunks += inbound.feed(frame)
    tail = inbound.flush()
    assert chunks
    assert all(len(base64.b64decode(c, validate=True)) == 960 for c in chunks + tail[:-1])
    assert sum(len(base64.b64decode(c)) for c in chunks + tail) == 0.5 * MODEL_RATE * 2


def test_bad_frame_leaves_inbound_state_untouched() -> None:
    """A bad frame mid-stream raises and changes nothing: the output equals the clean stream's."""
    frames = phone_frames(tone(1000, seconds=0.3), 13)
    clean = InboundAudio(resampler=make_resampler())
    interrupted = InboundAudio(resampler=make_resampler())
    expected: list[str] = []
    got: list[str] = []
    for i, frame in enumerate(frames):
        if i == 5:
            with pytest.raises(BadAudioFrame):
                interrupted.feed(frame[:-1])
        expected += clean.feed(frame)
        got += interrupted.feed(frame)
    assert got + interrupted.flush() == expected + clean.flush()


def test_inbound_flush_starts_a_fresh_stream() -> None:
    """After a flush, the same audio again gives the same chunks as the first time."""
    inbound = InboundAudio(resampler=make_resampler())
    frames = phone_frames(tone(1000, seconds=0.2), 20)
    first = [c for f in frames for c in inbound.feed(f)] + inbound.flush()
    second = [c for f in frames for c in inbound.feed(f)] + inbound.flush()
    assert first == second


def test_the_polyphase_resampler_speaks_float32() -> None:
    """Its output and its (empty) flush are float32, the dtype the rest of the path works in."""
    resampler = make_resampler("polyphase")
    assert resampler.process(tone(1000, seconds=0.02)).dtype == np.float32
    assert resampler.flush().dtype == np.float32


def test_an_inbound_flush_with_nothing_held_sends_nothing() -> None:
    """The default path holds nothing back: its flush is no chunk at all, not an empty one."""
    inbound = InboundAudio(resampler=make_resampler())
    inbound.feed(phone_frames(tone(440, seconds=0.1), 20)[0])
    assert inbound.flush() == []
