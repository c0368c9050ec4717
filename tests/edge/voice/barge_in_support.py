"""Speech, noise and echo scenes for the barge-in detector's tests and its benchmark.

Speech is Debian's espeak-ng (real formants, onsets and pauses; `apt-get install espeak-ng`),
resampled with soxr to the phone's 16 kHz and the tutor's 24 kHz. A scene is the microphone's
signal and, when the tutor speaks, the tutor's playback, which `play` feeds to a detector the way
the relay will: the tutor's audio as the phone plays it, the microphone in frames of given sizes.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

from edge.voice.audio import MODEL_RATE, PHONE_RATE, to_pcm16
from edge.voice.barge_in import SpeechOnset

Samples = npt.NDArray[np.float32]

MS = PHONE_RATE // 1000  # phone samples per millisecond

SENTENCES = (
    "Wait, can you explain the second step again please?",
    "No, that is not what I meant.",
    "Hold on, I think I got it.",
    "Sorry, what was the formula?",
    "Okay stop, one question.",
    "Hmm, why does the sign flip there?",
    "Could you go slower?",
    "I already know this part.",
)
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-us+f3", "en+m3", "en-gb-x-rp", "en+f2")
TUTOR_TEXT = (
    "The derivative of a product is the first function times the derivative of the second, "
    "plus the second function times the derivative of the first."
)


def espeak(text: str, path: Path, voice: str = "en-us", speed: int = 160) -> tuple[Samples, int]:
    """Speak `text` into `path` (a WAV) with espeak-ng; its samples in [-1, 1] and its rate."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: apt-get install espeak-ng")
    if not path.exists():
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    return pcm.astype(np.float32) / np.float32(32_768), rate


def resample(samples: Samples, rate: int, to: int) -> Samples:
    """`samples` at `rate` Hz resampled to `to` Hz (soxr HQ)."""
    return np.asarray(soxr.resample(samples, rate, to), dtype=np.float32)


def rms(samples: Samples) -> float:
    """Root mean square of the non-silent part (5 ms windows within 40 dB of the loudest)."""
    windows = _window_power(samples)
    return float(np.sqrt(windows[windows > windows.max() * 1e-4].mean()))


def _window_power(samples: Samples) -> npt.NDArray[np.float64]:
    window = 5 * MS
    count = len(samples) // window
    blocks = samples[: count * window].astype(np.float64).reshape(count, window)
    return np.asarray((blocks**2).mean(axis=1))


def speech_start(samples: Samples) -> int:
    """The true onset of a clean utterance: its first sample within 40 dB of its peak."""
    magnitude = np.abs(samples)
    return int(np.argmax(magnitude >= magnitude.max() * 0.01))


def trimmed(samples: Samples) -> Samples:
    """`samples` without the silence before and after (below -40 dB of the peak)."""
    loud = np.flatnonzero(np.abs(samples) >= np.abs(samples).max() * 0.01)
    return samples[loud[0] : loud[-1] + 1]


def at_rms(samples: Samples, target: float) -> Samples:
    """`samples` scaled so that their speech has RMS `target`."""
    return (samples * np.float32(target / rms(samples))).astype(np.float32)


def noise(seconds: float, dbfs: float, seed: int = 0) -> Samples:
    """White noise of `seconds` at `dbfs` RMS (a quiet room's microphone at -60)."""
    rng = np.random.default_rng(seed)
    scale = 10 ** (dbfs / 20)
    return rng.normal(0, scale, int(seconds * PHONE_RATE)).astype(np.float32)


def rumble(seconds: float, dbfs: float, seed: int = 0) -> Samples:
    """Low-passed noise like a fan's (most of its energy under 500 Hz), at `dbfs` RMS."""
    kernel = np.exp(-np.arange(64) / 16)
    low = np.convolve(noise(seconds, dbfs, seed), kernel / np.sqrt((kernel**2).sum()), "same")
    return low.astype(np.float32)


def mix(length: int, *parts: tuple[int, Samples]) -> Samples:
    """A signal of `length` samples with each (offset, samples) part added in at its offset."""
    out = np.zeros(length, np.float32)
    for offset, part in parts:
        end = min(length, offset + len(part))
        out[offset:end] += part[: end - offset]
    return out


@dataclass
class Scene:
    """What the microphone hears and, if the tutor speaks, what the phone plays (24 kHz)."""

    mic: Samples
    tutor: Samples | None = None  # what the phone plays, on the same clock as `mic`
    tutor_from: int = 0  # the microphone sample at which the phone starts playing `tutor`
    starts: list[int] = field(default_factory=list)  # true onsets of the student's speech

    def seconds(self) -> float:
        """How long the microphone's signal lasts."""
        return len(self.mic) / PHONE_RATE


def chunks(sizes: Sequence[int], total: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive frames of the given sizes, cycled, covering `total` samples."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for size in itertools.cycle(sizes):
        if start >= total:
            return bounds
        bounds.append((start, min(total, start + size)))
        start += size
    raise AssertionError("unreachable")  # pragma: no cover


def play(detector: SpeechOnset, scene: Scene, sizes: Sequence[int] = (20 * MS,)) -> list[int]:
    """Feed `scene` in microphone frames of `sizes`; where (detector clock) each onset fired.

    Before each microphone frame the tutor's audio for the same span goes to the detector as
    PCM16, as the relay passes it on while the phone plays it; its echo in `scene.mic` comes
    later, by the echo path's delay.
    """
    onsets = []
    tutor = None if scene.tutor is None else to_pcm16(scene.tutor)
    sent = 0
    for start, end in chunks(sizes, len(scene.mic)):
        if tutor is not None and end > scene.tutor_from:
            upto = min(len(tutor), (end - scene.tutor_from) * MODEL_RATE // PHONE_RATE * 2)
            if upto > sent:
                detector.tutor_audio(tutor[sent:upto])
                sent = upto
        if detector.phone_audio(scene.mic[start:end]):
            assert detector.onset_sample is not None
            onsets.append(detector.onset_sample)
    return onsets


class Voices:
    """espeak-ng utterances at 16 kHz (the student) and 24 kHz (the tutor), cached in a folder."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _raw(self, text: str, voice: str, speed: int) -> tuple[Samples, int]:
        name = hashlib.sha256(f"{voice} {speed} {text}".encode()).hexdigest()[:16] + ".wav"
        return espeak(text, self._folder / name, voice, speed)

    def student(self, text: str, voice: str = "en-us", speed: int = 160) -> Samples:
        """An utterance at the phone's rate, trimmed of silence, speech RMS 0.1 (-20 dBFS)."""
        return at_rms(trimmed(resample(*self._raw(text, voice, speed), PHONE_RATE)), 0.1)

    def tutor(self, text: str = TUTOR_TEXT, voice: str = "en-gb", speed: int = 175) -> Samples:
        """The tutor's answer at the model's rate (24 kHz), speech RMS 0.1 (-20 dBFS)."""
        return at_rms(resample(*self._raw(text, voice, speed), MODEL_RATE), 0.1)

    def utterances(self, count: int) -> list[Samples]:
        """`count` different utterances: sentences, voices and speeds (130-210 words/min)."""
        return [
            self.student(SENTENCES[i % len(SENTENCES)], VOICES[(i + i // 8) % 8], 130 + 7 * i % 80)
            for i in range(count)
        ]


def echo_of(tutor: Samples, gain_db: float, delay_ms: int) -> Samples:
    """The tutor's playback (24 kHz) as the microphone hears it: 16 kHz, `gain_db`, delayed."""
    heard = resample(tutor, MODEL_RATE, PHONE_RATE) * np.float32(10 ** (gain_db / 20))
    return np.concatenate((np.zeros(delay_ms * MS, np.float32), heard))


def quiet_room_with(*events: Samples, gap_s: float = 1.0) -> Scene:
    """A quiet room (-60 dBFS) with `events` one after another, `gap_s` before each and after."""
    gap = int(gap_s * PHONE_RATE)
    starts = list(itertools.accumulate((gap + len(e) for e in events[:-1]), initial=gap))
    length = starts[-1] + len(events[-1]) + gap
    parts = [(0, noise(length / PHONE_RATE, -60)), *zip(starts, events, strict=True)]
    onsets = [start + speech_start(event) for start, event in zip(starts, events, strict=True)]
    return Scene(mix(length, *parts), starts=onsets)


def alone(utterance: Samples, lead_s: float = 0.5, tail_s: float = 0.5, seed: int = 0) -> Scene:
    """The student speaking alone after `lead_s` of a quiet room (-60 dBFS)."""
    lead = int(lead_s * PHONE_RATE)
    length = lead + len(utterance) + int(tail_s * PHONE_RATE)
    mic = mix(length, (0, noise(length / PHONE_RATE, -60, seed)), (lead, utterance))
    return Scene(mic, starts=[lead + speech_start(utterance)])


def over_tutor(
    tutor: Samples,
    utterance: Samples | None,
    at_s: float = 1.0,
    echo_db: float = -20.0,
    echo_delay_ms: int = 100,
    seed: int = 0,
) -> Scene:
    """The tutor speaking, its echo in the microphone, and the student from `at_s` (or never)."""
    echo = echo_of(tutor, echo_db, echo_delay_ms)
    length = len(echo) + PHONE_RATE // 2
    parts = [(0, noise(length / PHONE_RATE, -60, seed)), (0, echo)]
    starts = []
    if utterance is not None:
        at = int(at_s * PHONE_RATE)
        parts.append((at, utterance))
        starts.append(at + speech_start(utterance))
    return Scene(mix(length, *parts), tutor=tutor, starts=starts)
