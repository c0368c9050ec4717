"""The barge-in detector on real speech (espeak-ng): onsets, coughs, noise, echo, frame sizes."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import pytest

from edge.voice.audio import PHONE_RATE
from edge.voice.barge_in import OnsetConfig, SpeechOnset
from tests.edge.voice.barge_in_support import (
    MS,
    SENTENCES,
    Samples,
    Scene,
    Voices,
    alone,
    mix,
    noise,
    over_tutor,
    play,
    quiet_room_with,
    rumble,
    speech_start,
)

# The student speaking with nobody else: the detector listening even when the tutor is silent.
ALONE = OnsetConfig(over_tutor_only=False)
VAD_FRAME = 20 * MS


def delays_ms(scenes: list[Scene], config: OnsetConfig = ALONE) -> list[float]:
    """For each scene (one utterance each), its first onset's delay after the true start."""
    delays = []
    for scene in scenes:
        onsets = play(SpeechOnset(config), scene)
        assert onsets, "the utterance was not detected"
        delays.append((onsets[0] - scene.starts[0]) / MS)
    return delays


def burst(samples: Samples, ms: int) -> Samples:
    """`ms` of `samples` from their loudest part, with 5 ms fades in and out."""
    length = ms * MS
    power = np.convolve(samples**2, np.ones(length), "valid")
    start = int(np.argmax(power))
    piece = samples[start : start + length].copy()
    fade = np.linspace(0, 1, 5 * MS, dtype=np.float32)
    piece[: len(fade)] *= fade
    piece[-len(fade) :] *= fade[::-1]
    return piece


def test_onset_of_speech_alone_within_150_ms_p50(utterances: list[Samples]) -> None:
    """Eight utterances in a quiet room: detected after they start, p50 within 150 ms."""
    delays = delays_ms([alone(u, lead_s=0.5 + i / 400, seed=i) for i, u in enumerate(utterances)])

    assert min(delays) > 0
    assert statistics.median(delays) <= 150


def test_onset_of_speech_over_the_tutor_within_150_ms_p50(
    utterances: list[Samples], tutor: Samples
) -> None:
    """The student at the tutor's level over its -20 dB echo: p50 within 150 ms."""
    scenes = [over_tutor(tutor, u, at_s=1 + 0.3025 * i, seed=i) for i, u in enumerate(utterances)]

    delays = delays_ms(scenes, OnsetConfig())

    assert min(delays) > 0
    assert statistics.median(delays) <= 150


def test_one_onset_per_utterance(utterances: list[Samples]) -> None:
    """Four utterances a second apart: four onsets, each within its own utterance."""
    scene = quiet_room_with(*utterances[:4])
    ends = [*scene.starts[1:], len(scene.mic)]

    onsets = play(SpeechOnset(ALONE), scene)

    assert len(onsets) == 4
    assert all(
        start < onset < end for start, onset, end in zip(scene.starts, onsets, ends, strict=True)
    )


def test_pause_shorter_than_min_silence_keeps_one_onset(voices: Voices) -> None:
    """A 300 ms pause inside a sentence (under min_silence_ms) does not make a second onset."""
    first, second = voices.student("So the first part"), voices.student("is fine, right?")
    pause = np.zeros(300 * MS, np.float32)

    onsets = play(SpeechOnset(ALONE), alone(np.concatenate((first, pause, second))))

    assert len(onsets) == 1


def test_noise_burst_shorter_than_min_speech_is_no_onset() -> None:
    """Coughs and clicks: 80 ms bursts of loud noise (-6 dBFS), none an onset."""
    coughs = [burst(noise(0.2, -6, seed=i), 80) for i in range(5)]

    assert play(SpeechOnset(ALONE), quiet_room_with(*coughs)) == []


def test_speech_shorter_than_min_speech_is_no_onset(utterances: list[Samples]) -> None:
    """Even 80 ms of real speech (the loudest of each utterance) is shorter than the minimum."""
    snippets = [burst(u, 80) for u in utterances]

    assert play(SpeechOnset(ALONE), quiet_room_with(*snippets)) == []


@pytest.mark.parametrize("kind", ["noise", "speech"])
def test_burst_over_the_tutor_is_no_onset(
    utterances: list[Samples], tutor: Samples, kind: str
) -> None:
    """An 80 ms cough while the tutor speaks: its echo does not make up the rest of the minimum."""
    cough = burst(noise(0.2, -6) if kind == "noise" else utterances[2], 80)
    scenes = [over_tutor(tutor, cough, at_s=at) for at in (1.0, 2.3, 3.6, 4.9)]

    assert [play(SpeechOnset(), scene) for scene in scenes] == [[]] * 4


def test_speech_longer_than_min_speech_is_an_onset(utterances: list[Samples]) -> None:
    """The same cuts at 250 ms are onsets: the minimum, not the VAD, rejected the short ones."""
    snippets = [burst(u, 250) for u in utterances]

    assert len(play(SpeechOnset(ALONE), quiet_room_with(*snippets))) == len(snippets)


def test_silence_is_no_onset() -> None:
    """Digital silence, then a quiet room (-60 dBFS): no onset."""
    digital = np.zeros(5 * PHONE_RATE, np.float32)
    room = noise(5, -60)

    assert play(SpeechOnset(ALONE), Scene(np.concatenate((digital, room)))) == []


@pytest.mark.parametrize("kind", ["white", "rumble"])
def test_steady_noise_is_no_onset(kind: str) -> None:
    """Loud steady noise (-30 dBFS) from the start, which WebRTC VAD alone calls speech."""
    steady = noise(10, -30, seed=3) if kind == "white" else rumble(10, -30, seed=3)

    assert play(SpeechOnset(ALONE), Scene(steady)) == []


def test_steady_noise_after_digital_silence_is_no_onset() -> None:
    """A muted microphone, then loud steady noise: the noise floor is the room's, not zero's."""
    muted = np.zeros(2 * PHONE_RATE, np.float32)

    assert play(SpeechOnset(ALONE), Scene(np.concatenate((muted, rumble(10, -30))))) == []


@pytest.mark.parametrize("delay_ms", [0, 100, 300])
def test_tutor_echo_at_minus_20_db_is_no_onset(tutor: Samples, delay_ms: int) -> None:
    """The tutor's voice leaking into the microphone at -20 dB, at several delays: no onset."""
    scene = over_tutor(tutor, None, echo_db=-20, echo_delay_ms=delay_ms)

    assert play(SpeechOnset(), scene) == []


def test_echo_6_db_louder_than_assumed_is_no_onset(tutor: Samples) -> None:
    """The margin: an echo path 6 dB worse than echo_gain_db (-14 dB) is still not the student."""
    scene = over_tutor(tutor, None, echo_db=-14, echo_delay_ms=100)

    assert play(SpeechOnset(), scene) == []


def test_student_6_db_below_the_tutor_is_an_onset(
    utterances: list[Samples], tutor: Samples
) -> None:
    """A student quieter than the tutor's playback (by 6 dB) still interrupts it."""
    quieter = utterances[1] * np.float32(0.5)

    onsets = play(SpeechOnset(), over_tutor(tutor, quieter, at_s=2))

    assert len(onsets) == 1


@pytest.mark.parametrize(
    "sizes",
    [(10 * MS,), (32 * MS,), (100 * MS,), (317,), (7, 1999, 160, 441)],
    ids=["10ms", "32ms", "100ms", "317", "mixed"],
)
def test_frame_sizes_give_the_same_onset(
    utterances: list[Samples], tutor: Samples, sizes: tuple[int, ...]
) -> None:
    """Phone frames of 10, 32, 100 ms and odd sizes: the onset of 20 ms frames, within a frame."""
    scene = over_tutor(tutor, utterances[0], at_s=1.5)
    expected = play(SpeechOnset(), scene)

    onsets = play(SpeechOnset(), scene, sizes)

    assert len(onsets) == len(expected) == 1
    assert abs(onsets[0] - expected[0]) <= VAD_FRAME


def test_speech_without_the_tutor_is_no_onset_by_default(utterances: list[Samples]) -> None:
    """By default only speech over the tutor counts: there is nothing to interrupt otherwise."""
    assert play(SpeechOnset(), alone(utterances[0])) == []


def test_student_still_speaking_when_the_tutor_starts_is_an_onset(
    voices: Voices, tutor: Samples
) -> None:
    """A student who talks on when the tutor starts is an onset soon after the tutor starts."""
    long = voices.student(" ".join(SENTENCES[:3]))
    room = noise(len(long) / PHONE_RATE + 1, -60)
    scene = Scene(mix(len(room), (0, room), (0, long)), tutor=tutor, tutor_from=1500 * MS)

    onsets = play(SpeechOnset(), scene)

    assert len(onsets) == 1
    assert 1500 * MS < onsets[0] <= 1500 * MS + 400 * MS


def test_tutor_audio_sent_ahead_counts_as_playing_until_it_has_played() -> None:
    """2 s of tutor audio sent at once plays for 2 s (and its echo tail), delta after delta."""
    detector = SpeechOnset(OnsetConfig(echo_tail_ms=200))
    for _ in range(4):  # 2 s in four deltas at once, as the model streams faster than real time
        detector.tutor_audio(np.zeros(24_000 // 2, np.int16).tobytes())

    detector.phone_audio(np.zeros(2100 * MS, np.float32))
    speaking_at_2_1_s = detector.tutor_speaking
    detector.phone_audio(np.zeros(200 * MS, np.float32))

    assert speaking_at_2_1_s
    assert not detector.tutor_speaking


def test_tutor_stopped_forgets_what_was_not_played() -> None:
    """After tutor_stopped the queued rest is gone: the tutor is silent once the tail is over."""
    detector = SpeechOnset(OnsetConfig(echo_tail_ms=200))
    detector.tutor_audio(np.zeros(2 * 24_000, np.int16).tobytes())
    detector.phone_audio(np.zeros(500 * MS, np.float32))

    detector.tutor_stopped()
    detector.phone_audio(np.zeros(200 * MS, np.float32))

    assert not detector.tutor_speaking


@pytest.mark.parametrize(
    "bad",
    [{"min_speech_ms": 0}, {"min_silence_ms": -1}, {"echo_tail_ms": -1}, {"aggressiveness": 4}],
)
def test_config_refuses_values_out_of_range(bad: dict[str, Any]) -> None:
    """Impossible settings fail when the config is built, not in the middle of a stream."""
    with pytest.raises(ValueError, match=r"must be|is 0\.\.3"):
        OnsetConfig(**bad)


def test_speech_start_is_where_the_utterance_begins(utterances: list[Samples]) -> None:
    """The tests' own ruler: the true onset moves with the utterance."""
    padded = np.concatenate((np.zeros(4000, np.float32), utterances[0]))

    assert speech_start(padded) == 4000 + speech_start(utterances[0])
