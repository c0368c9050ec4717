"""Benchmark of the voice relay's 16 kHz -> 24 kHz resampling: quality and speed per backend.

One run, one table: the old backend's per-frame linear interpolation, libsamplerate
(sinc_fastest, sinc_medium), soxr (HQ, VHQ), the polyphase FIR (the default), and the relay's
whole inbound path (`InboundAudio.feed`, then the JSON `input_audio_buffer.append` event the
relay sends) as it was (soxr HQ, 20 ms framing) and as it is (polyphase, each frame at once).
Every backend is fed 20 ms phone frames, as in production. Quality: SINAD of a -6 dBFS tone at
1 kHz and 7 kHz (least-squares sine fit at the known frequency, start-up transient and tail
skipped), and the 9 kHz image of the 7 kHz tone (16 - 7 kHz, what a poor anti-imaging filter
leaves) from a Kaiser-windowed FFT. Speed: multiples of real time on one pinned core, rounds
alternating between backends so machine drift hits all of them alike.

Run: .venv/bin/python scripts/bench/resample.py [--seconds 10] [--rounds 7] [--cpu N]
"""

from __future__ import annotations

import os

# One thread everywhere: the relay resamples on the event loop's core, and a BLAS or OpenMP pool
# would make the speed figures depend on idle cores. Set before numpy is imported.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse
import base64
import datetime as dt
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import samplerate  # type: ignore[import-not-found]
import soxr  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.voice.audio import (
    MODEL_RATE,
    PHONE_RATE,
    InboundAudio,
    Resampler,
    ResamplerKind,
    append_event,
    make_resampler,
    pcm16_to_float,
)
from edge.voice.barge_in import SpeechOnset

FRAME = PHONE_RATE * 20 // 1000  # 20 ms phone frame: 320 samples
FloatArray = npt.NDArray[np.float32]


class Linear:
    """The old backend's resampler: `np.interp` on each frame alone, no state, no filter."""

    def process(self, samples: FloatArray) -> FloatArray:
        """Sample the frame's straight-line interpolation at every 2/3 of an input sample.

        The last point (2/3 past the frame's last sample) repeats that sample, as np.interp
        does; this reproduces the issue's figures (SINAD 3.6 dB at 7 kHz, image 4 dB under).
        """
        n_out = len(samples) * MODEL_RATE // PHONE_RATE
        where = np.arange(n_out) * (PHONE_RATE / MODEL_RATE)
        out: FloatArray = np.interp(where, np.arange(len(samples)), samples).astype(np.float32)
        return out

    def flush(self) -> FloatArray:
        """Nothing is held back."""
        return np.zeros(0, dtype=np.float32)


class Converter(Protocol):
    """Float32 16 kHz frames in, 24 kHz out: a bare resampler, or the relay's inbound path."""

    def feed(self, frame: FloatArray, frame_bytes: bytes) -> int:
        """Process one 20 ms frame; return how many output samples came out."""
        ...

    def convert(self, samples: FloatArray) -> FloatArray:
        """The whole signal in 20 ms frames plus the tail, as float 24 kHz (for quality)."""
        ...


class ResamplerOnly:
    """A resampler alone, fed the frame as an array."""

    def __init__(self, resampler: Resampler) -> None:
        self._resampler = resampler

    def feed(self, frame: FloatArray, frame_bytes: bytes) -> int:
        """Resample one frame."""
        return len(self._resampler.process(frame))

    def convert(self, samples: FloatArray) -> FloatArray:
        """Resample frame by frame, then flush."""
        outs = [self._resampler.process(frame) for frame, _ in frames_of(samples)]
        return np.concatenate([*outs, self._resampler.flush()])


class InboundPath:
    """What the relay does per phone frame: `InboundAudio.feed`, then one JSON event per chunk."""

    def __init__(
        self, kind: ResamplerKind = "polyphase", frame_ms: int | None = None, onset: bool = False
    ) -> None:
        self._inbound = InboundAudio(resampler=make_resampler(kind), frame_ms=frame_ms)
        # The relay also listens for the student speaking over the tutor (edge/voice/barge_in.py).
        self._onset = SpeechOnset() if onset else None

    def feed(self, frame: FloatArray, frame_bytes: bytes) -> int:
        """Validate, resample, PCM16, frame, base64 and serialise one phone frame."""
        n = 0
        samples = self._inbound.decode(frame_bytes)
        if self._onset is not None:
            self._onset.phone_audio(samples)
        for chunk in self._inbound.convert(samples):
            append_event(chunk)
            n += len(chunk) * 3 // 8  # base64 chars -> PCM16 samples: 4 chars = 3 bytes
        return n

    def convert(self, samples: FloatArray) -> FloatArray:
        """Decode the base64 chunks back to float, as the Realtime API would."""
        chunks = [c for _, data in frames_of(samples) for c in self._inbound.feed(data)]
        chunks += self._inbound.flush()
        return pcm16_to_float(b"".join(base64.b64decode(c) for c in chunks))


@dataclass(frozen=True)
class Backend:
    """A row of the table: its name and how to make a fresh converter."""

    name: str
    make: Callable[[], Converter]


def frames_of(samples: FloatArray) -> list[tuple[FloatArray, bytes]]:
    """20 ms frames, as arrays and as the Float32LE bytes the phone sends."""
    frames = [samples[i : i + FRAME] for i in range(0, len(samples), FRAME)]
    return [(f, f.astype("<f4").tobytes()) for f in frames]


BACKENDS = [
    Backend("linear interpolation (old backend, per frame)", lambda: ResamplerOnly(Linear())),
    Backend(
        "libsamplerate sinc_fastest",
        lambda: ResamplerOnly(make_resampler("libsamplerate", quality="sinc_fastest")),
    ),
    Backend(
        "libsamplerate sinc_medium",
        lambda: ResamplerOnly(make_resampler("libsamplerate", quality="sinc_medium")),
    ),
    Backend("soxr HQ", lambda: ResamplerOnly(make_resampler("soxr", quality="HQ"))),
    Backend("soxr VHQ", lambda: ResamplerOnly(make_resampler("soxr", quality="VHQ"))),
    Backend(
        "polyphase FIR, minimum phase (the default)",
        lambda: ResamplerOnly(make_resampler("polyphase")),
    ),
    Backend(
        "inbound path before: validate, soxr HQ, PCM16, 20 ms framing, base64, JSON",
        lambda: InboundPath("soxr", frame_ms=20),
    ),
    Backend(
        "inbound path now: validate, polyphase, PCM16, base64, JSON, each frame as it comes",
        InboundPath,
    ),
    Backend(
        "**inbound path now, with the barge-in detector** (WebRTC VAD, tutor silent)",
        lambda: InboundPath(onset=True),
    ),
]


def tone(freq: float, seconds: float) -> FloatArray:
    """A -6 dBFS sine at the phone's rate."""
    n = np.arange(round(seconds * PHONE_RATE))
    return (0.5 * np.sin(2 * np.pi * freq * n / PHONE_RATE)).astype(np.float32)


def steady(out: FloatArray) -> FloatArray:
    """One second of output after 0.25 s: past the start-up transient, before the tail."""
    start = MODEL_RATE // 4
    return out[start : start + MODEL_RATE]


def sinad_db(samples: FloatArray, freq: float) -> float:
    """Power of the least-squares sine at `freq` over the power of everything else, in dB."""
    t = np.arange(len(samples)) / MODEL_RATE
    basis = np.column_stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)])
    coef = np.linalg.lstsq(basis, samples.astype(np.float64), rcond=None)[0]
    fit = basis @ coef
    return float(10 * np.log10(np.mean(fit**2) / np.mean((samples - fit) ** 2)))


def image_db(samples: FloatArray, tone_hz: float, image_hz: float) -> float:
    """Peak level near `image_hz` relative to the peak near `tone_hz`, Kaiser-windowed FFT.

    beta 20 puts the window's sidelobes near -190 dB, below float32 rounding, so a clean
    resampler's figure is its noise floor rather than the window's leakage.
    """
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.kaiser(len(samples), 20)))
    hz_per_bin = MODEL_RATE / len(samples)

    def peak(hz: float) -> float:
        centre = round(hz / hz_per_bin)
        return float(spectrum[centre - 20 : centre + 21].max())

    return float(20 * np.log10(peak(image_hz) / peak(tone_hz)))


@dataclass
class Row:
    """Figures for one backend."""

    sinad_1k: float
    sinad_7k: float
    image_9k: float
    held_ms: float
    click_ms: float
    speeds: list[float]
    frame_us: list[float]


def quality(backend: Backend) -> Row:
    """SINAD at 1 and 7 kHz, the 9 kHz image, and the most output ever held back."""
    out_1k = backend.make().convert(tone(1000, 1.5))
    out_7k = backend.make().convert(tone(7000, 1.5))
    converter, produced, held = backend.make(), 0, 0.0
    for i, (frame, data) in enumerate(frames_of(tone(1000, 1.0)), start=1):
        produced += converter.feed(frame, data)
        held = max(held, (i * FRAME * MODEL_RATE // PHONE_RATE - produced) / MODEL_RATE * 1000)
    return Row(
        sinad_1k=sinad_db(steady(out_1k), 1000),
        sinad_7k=sinad_db(steady(out_7k), 7000),
        image_9k=image_db(steady(out_7k), 7000, 9000),
        held_ms=held,
        click_ms=click_lag_ms(backend),
        speeds=[],
        frame_us=[],
    )


def click_lag_ms(backend: Backend) -> float:
    """How much later than its own time a lone click's peak comes out of the converter (ms).

    Counted on the output's time line: a converter that holds audio back and then aligns it
    shows its delay under "held back" instead; one that passes audio straight on (a causal
    filter) shows its filter's delay here.
    """
    position = PHONE_RATE // 2 + FRAME // 2
    samples = np.zeros(PHONE_RATE, dtype=np.float32)
    samples[position] = 0.5
    out = backend.make().convert(samples)
    return float((np.argmax(np.abs(out)) - position * MODEL_RATE / PHONE_RATE) / MODEL_RATE * 1000)


def speed_round(backend: Backend, frames: list[tuple[FloatArray, bytes]], row: Row) -> None:
    """Feed every frame to a fresh converter, timing each; append to the row's figures."""
    converter = backend.make()
    clock = time.perf_counter_ns
    times = []
    for frame, data in frames:
        started = clock()
        converter.feed(frame, data)
        times.append(clock() - started)
    total_s = sum(times) / 1e9
    row.speeds.append(len(frames) * FRAME / PHONE_RATE / total_s)
    row.frame_us.extend(t / 1000 for t in times)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Measure every backend in one run and print the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per speed round")
    parser.add_argument("--rounds", type=int, default=7, help="speed rounds per backend")
    parser.add_argument(
        "--cpu",
        type=int,
        default=max(os.sched_getaffinity(0)),
        help="core to pin to (default: the last; CPU 0 of a VM often also serves interrupts)",
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})  # one core, as the relay's event loop gets

    rows = {b.name: quality(b) for b in BACKENDS}
    # Speech-like load for speed: noise at -20 dBFS (content does not change a resampler's work).
    noise = np.random.default_rng(0).normal(0, 0.1, round(args.seconds * PHONE_RATE))
    frames = frames_of(noise.astype(np.float32))
    for b in BACKENDS:  # warm-up: first-call allocations and imports
        speed_round(b, frames[:50], Row(0, 0, 0, 0, 0, [], []))
    for _ in range(args.rounds):
        for b in BACKENDS:
            speed_round(b, frames, rows[b.name])

    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"soxr {soxr.__version__} (libsoxr {soxr.soxr_ext.libsoxr_version()}), "
        f"samplerate {samplerate.__version__} "
        f"(libsamplerate {samplerate.__libsamplerate_version__}), "
        f"{args.rounds} rounds of {args.seconds:g} s in 20 ms frames, pinned to CPU {args.cpu}\n"
    )
    print(
        "| converter | SINAD 1 kHz (dB) | SINAD 7 kHz (dB) | 9 kHz image vs 7 kHz tone (dB) "
        "| speed, x real time (median [min-max]) | µs per 20 ms frame p50 / p99 "
        "| most output held back (ms) | click peak later by (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r.sinad_1k:.1f} | {r.sinad_7k:.1f} | {r.image_9k:.1f} "
            f"| {statistics.median(r.speeds):,.0f} [{min(r.speeds):,.0f}-{max(r.speeds):,.0f}] "
            f"| {pct(r.frame_us, 0.5):.1f} / {pct(r.frame_us, 0.99):.1f} | {r.held_ms:.1f} "
            f"| {r.click_ms:.2f} |"
        )
    now = rows[BACKENDS[-1].name]
    inbound = statistics.median(now.speeds)
    worst_sinad = min(now.sinad_1k, now.sinad_7k)
    print(
        f"\nTargets, inbound path now: SINAD >= 90 dB at 1 and 7 kHz: "
        f"{_verdict(worst_sinad >= 90)} (worst {worst_sinad:.1f} dB); 9 kHz image < -90 dBc: "
        f"{_verdict(now.image_9k < -90)} ({now.image_9k:.1f}); >= 200x real time (median): "
        f"{_verdict(inbound >= 200)} ({inbound:,.0f}x)."
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
