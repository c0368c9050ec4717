"""Barge-in through the running daemon: speech onset in the phone's audio to its `interrupt`.

The daemon runs as its own process (`studylens-edge serve`). This process runs the fake
Realtime peer from tests/ (its own VAD off, so every `interrupt` is the edge's) and a phone
that plays and records in real time, in 20 ms frames: the tutor answers with espeak-ng speech
(needs Debian's `espeak-ng`), the phone's microphone hears that answer's echo at -20 dB 100 ms
later over a quiet room (-60 dBFS), and in each trial the student starts speaking (espeak-ng,
8 voices) 0.6-1.5 s into the answer. The delay is from the wall time of the utterance's true
onset sample (its first within 40 dB of its peak; the frame holding it is sent when the frame
is full, as a phone does) to the `interrupt` reaching the phone.

Run: .venv/bin/python scripts/bench/barge_in_live.py [--trials 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from aiohttp import ClientSession, WSMsgType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.frames import running_daemon
from tests.edge.voice.barge_in_support import MS, Voices, noise, resample, speech_start
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime

PHONE_RATE = 16_000
MODEL_RATE = 24_000
FRAME = 20 * MS
ECHO_GAIN = np.float32(0.1)  # -20 dB
ECHO_DELAY = 100 * MS
WAIT_S = 2.0  # an utterance not interrupting within this is missed


class Phone:
    """Plays what it is sent and hears it again as echo; notes when `interrupt` arrives."""

    def __init__(self) -> None:
        self.echo = np.zeros(ECHO_DELAY, np.float32)  # the speaker's sound, still to be heard
        self.interrupted = asyncio.Event()
        self.interrupted_at = 0.0

    def played(self, pcm: bytes) -> None:
        """Tutor audio: queue its echo (16 kHz, -20 dB) behind what is still to be heard."""
        heard = np.frombuffer(pcm, "<i2").astype(np.float32) / np.float32(32_768)
        self.echo = np.concatenate((self.echo, resample(heard, MODEL_RATE, PHONE_RATE) * ECHO_GAIN))

    def hear(self, count: int) -> npt.NDArray[np.float32]:
        """The next `count` samples of echo (silence once the speaker is quiet)."""
        out = np.zeros(count, np.float32)
        take = min(count, len(self.echo))
        out[:take] = self.echo[:take]
        self.echo = self.echo[take:]
        return out

    def stopped(self) -> None:
        """The phone flushed its player: no more echo of what it did not play."""
        self.echo = self.echo[:ECHO_DELAY]


async def trial(
    ws: object, phone: Phone, peer: FakeRealtime, utterance: npt.NDArray[np.float32], at_s: float
) -> float | None:
    """One answer, one utterance over it; the delay in ms, or None if nothing interrupted."""
    send = ws.send_bytes  # type: ignore[attr-defined]
    phone.interrupted.clear()
    await peer.respond()
    start = round(at_s * PHONE_RATE)
    onset = start + speech_start(utterance)
    length = start + len(utterance) + PHONE_RATE  # a second of quiet after: the detector re-arms
    room = noise(length / PHONE_RATE, -60, seed=round(at_s * 1000))
    loop = asyncio.get_running_loop()
    began = loop.time()
    onset_at: float | None = None
    for n, first in enumerate(range(0, length, FRAME)):
        mic = room[first : first + FRAME] + phone.hear(FRAME)[: len(room[first : first + FRAME])]
        part = utterance[max(0, first - start) : max(0, first + FRAME - start)]
        if first + FRAME > start and len(part):
            offset = max(0, start - first)
            mic[offset : offset + len(part)] += part[: len(mic) - offset]
        sent = time.perf_counter()
        await send(mic.astype("<f4").tobytes())
        if onset_at is None and first <= onset < first + FRAME:
            onset_at = sent - (first + FRAME - onset) / PHONE_RATE
        await asyncio.sleep(max(0.0, began + (n + 1) * 0.02 - loop.time()))
    if onset_at is None or not phone.interrupted.is_set():
        return None
    delay = (phone.interrupted_at - onset_at) * 1000
    return delay if delay < WAIT_S * 1000 else None


async def run(trials: int) -> None:
    """Start everything, run the trials, print the figures."""
    with tempfile.TemporaryDirectory() as folder:
        voices = Voices(Path(folder))
        tutor = voices.tutor()
        utterances = voices.utterances(8)
    realtime, vision = FakeRealtime(auto_respond=False, speech_threshold=1e9), FakeOpenAI()
    await realtime.start()
    await vision.start()
    answer = (tutor[: 4 * MODEL_RATE] * 32_767).astype("<i2")
    realtime.reply_source = lambda start, count: answer[start : start + count].tobytes()
    realtime.reply_audio_ms, realtime.delta_ms, realtime.delta_interval = 4_000, 20, 0.02
    settings = {
        "STUDYLENS_OPENAI_BASE_URL": vision.base_url,
        "STUDYLENS_REALTIME_URL": realtime.websocket_base_url,
    }
    rng = random.Random(3)  # noqa: S311 - not crypto
    delays: list[float] = []
    missed = 0
    phone = Phone()
    async with running_daemon(settings) as daemon:
        url = f"ws://127.0.0.1:{daemon.port}/ws?token={daemon.token}"
        async with ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_json({"type": "start"})
            ready = asyncio.Event()

            async def listen() -> None:
                async for message in ws:
                    if message.type == WSMsgType.BINARY:
                        phone.played(message.data)
                        continue
                    event = json.loads(message.data)
                    if event["type"] == "ready":
                        ready.set()
                    elif event["type"] == "interrupt" and not phone.interrupted.is_set():
                        phone.interrupted_at = time.perf_counter()
                        phone.interrupted.set()
                        phone.stopped()

            listener = asyncio.create_task(listen())
            await asyncio.wait_for(ready.wait(), 10)
            for i in range(trials):
                delay = await trial(
                    ws, phone, realtime, utterances[i % len(utterances)], rng.uniform(0.6, 1.5)
                )
                if delay is None:
                    missed += 1
                else:
                    delays.append(delay)
                await realtime.wait_for(lambda: realtime.response_active is False, within=10)
            await ws.send_json({"type": "stop"})
            await listener
    await realtime.stop()
    await vision.stop()
    realtime.assert_valid()
    p50, p90 = np.percentile(delays, [50, 90]) if delays else (float("nan"),) * 2
    print(
        f"{trials} utterances over the tutor (echo -20 dB), 20 ms frames in real time: "
        f"onset -> interrupt p50 {p50:.0f} ms, p90 {p90:.0f} ms, max {max(delays, default=0):.0f}"
        f" ms; missed {missed} (target p50 <= 150 ms)"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.trials))


if __name__ == "__main__":
    main()
