"""Benchmark of the barge-in detector (`edge/voice/barge_in.py`): onset delay and cost per frame.

Utterances are espeak-ng speech (8 sentences, 8 voices, 130-210 words/min; needs Debian's
`espeak-ng`), in the scenes of `tests/edge/voice/barge_in_support.py`:

- alone: the student after 0.5 s of a quiet room (-60 dBFS), detector with `over_tutor_only`
  off;
- over the tutor: the tutor's answer playing, its echo in the microphone at -20 dB and 100 ms,
  the student (at the tutor's level, then 6 dB below it) from 0.6-1.5 s on;
- echo only: the tutor and its echo at -20 dB (and at -14 and -12 dB: an echo path worse than
  the detector assumes), delays 0-300 ms, nobody else (every onset is a false barge-in);
- noise switched on: a quiet room, then white or fan-like noise at -30 dBFS (the known weakness:
  WebRTC VAD calls fresh noise speech before the noise floor has learnt it).

Delay is counted on the detector's own clock: phone samples from the utterance's true onset (its
first sample within 40 dB of its peak) to the end of the VAD frame that decided the onset; the
utterances start at offsets spread over a 20 ms frame.
Cost: microseconds per 20 ms microphone frame (`phone_audio`, and `tutor_audio` of the tutor's
matching 20 ms while it speaks), the best of several rounds.

Run: .venv/bin/python scripts/bench/barge_in.py [--utterances 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.voice.audio import to_pcm16
from edge.voice.barge_in import OnsetConfig, SpeechOnset
from tests.edge.voice.barge_in_support import (
    MS,
    VOICES,
    Scene,
    Voices,
    alone,
    noise,
    over_tutor,
    play,
    rumble,
)


def skew(i: int) -> float:
    """A different offset within a 20 ms VAD frame for each utterance, in seconds."""
    return (i * 7 % 20) / 1000


def delays(scenes: list[Scene], config: OnsetConfig) -> tuple[list[float], int, int]:
    """Onset delays in ms, utterances missed, and onsets that were not the first after a start."""
    found: list[float] = []
    missed = extra = 0
    for scene in scenes:
        onsets = play(SpeechOnset(config), scene)
        start = scene.starts[0]
        late = [o for o in onsets if o > start]
        extra += len(onsets) - min(1, len(late))
        if late:
            found.append((late[0] - start) / MS)
        else:
            missed += 1
    return found, missed, extra


def summary(name: str, found: list[float], missed: int, extra: int) -> str:
    """One line: p50, p90 and max delay, misses and extra onsets."""
    q = np.percentile(found, [50, 90]) if found else [float("nan")] * 2
    top = max(found, default=float("nan"))
    return (
        f"{name:26s} n={len(found) + missed:3d}  p50 {q[0]:5.0f} ms  p90 {q[1]:5.0f} ms  "
        f"max {top:5.0f} ms  missed {missed}  extra onsets {extra}"
    )


def cost_us(scene: Scene, config: OnsetConfig, rounds: int) -> float:
    """Best-of-rounds microseconds per 20 ms microphone frame (and its tutor audio)."""
    frame = 20 * MS
    mic = [scene.mic[i : i + frame] for i in range(0, len(scene.mic) - frame + 1, frame)]
    tutor = b"" if scene.tutor is None else to_pcm16(scene.tutor)
    per = 960  # bytes of PCM16 24 kHz per 20 ms
    refs = [tutor[i * per : (i + 1) * per] for i in range(len(mic))]
    best = float("inf")
    for _ in range(rounds):
        detector = SpeechOnset(config)
        began = time.perf_counter()
        for samples, ref in zip(mic, refs, strict=True):
            if ref:
                detector.tutor_audio(ref)
            detector.phone_audio(samples)
        best = min(best, (time.perf_counter() - began) / len(mic) * 1e6)
    return best


def main() -> None:
    """Run every scene and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config = OnsetConfig()
    print(
        f"{platform.machine()} {platform.python_version()}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {config}"
    )
    with tempfile.TemporaryDirectory() as folder:
        voices = Voices(Path(folder))
        utterances = voices.utterances(args.utterances)
        tutors = [voices.tutor(voice=v, speed=150 + 10 * i) for i, v in enumerate(VOICES[:4])]
        alone_scenes = [alone(u, lead_s=0.5 + skew(i), seed=i) for i, u in enumerate(utterances)]
        over_scenes = [
            over_tutor(tutors[i % 4], u, at_s=0.6 + 0.1 * (i % 10) + skew(i), seed=i)
            for i, u in enumerate(utterances)
        ]
        quieter = [
            over_tutor(
                tutors[i % 4], u * np.float32(0.5), at_s=0.6 + 0.1 * (i % 10) + skew(i), seed=i
            )
            for i, u in enumerate(utterances)
        ]
        echo_scenes = {
            db: [
                over_tutor(t, None, echo_db=db, echo_delay_ms=(0, 50, 100, 200, 300)[i % 5], seed=i)
                for i, t in enumerate(tutors * (args.utterances // 4))
            ]
            for db in (-20, -14, -12)
        }
        alone_config = OnsetConfig(over_tutor_only=False)
        print(summary("alone", *delays(alone_scenes, alone_config)))
        print(summary("over the tutor (-20 dB)", *delays(over_scenes, config)))
        print(summary("  student 6 dB quieter", *delays(quieter, config)))
        for db, scenes in echo_scenes.items():
            false = sum(len(play(SpeechOnset(config), s)) for s in scenes)
            seconds = sum(s.seconds() for s in scenes)
            name = f"echo only ({db} dB)"
            print(f"{name:26s} n={len(scenes):3d}  false onsets {false} in {seconds:.0f} s")
        for kind, make in (("white", noise), ("rumble", rumble)):
            switched_on = [
                Scene(np.concatenate((noise(2, -60, seed=i), make(8, -30, seed=100 + i))))
                for i in range(10)
            ]
            false = sum(len(play(SpeechOnset(alone_config), s)) for s in switched_on)
            name = f"{kind} noise switched on"
            print(f"{name:26s} n={len(switched_on):3d}  false onsets {false} (-30 dBFS, alone)")
        silent = cost_us(Scene(noise(10, -60)), alone_config, args.rounds)
        speaking = cost_us(over_scenes[0], config, args.rounds)
        print(
            f"cost per 20 ms frame: tutor silent {silent:.1f} us, tutor speaking {speaking:.1f} us"
        )


if __name__ == "__main__":
    main()
