"""Click probe: the latency the edge adds to voice, mouth to model and model to ear.

The daemon runs as its own process (`studylens-edge serve`, as in production). This process
runs a phone and the fake Realtime peer from tests/, on one clock (`time.perf_counter`):

- mouth to model: the phone streams silence in real time, in frames of `--frame-ms`, with a lone
  click (one full-scale-ish sample) every quarter second at a random place in its frame. A click
  is timed when the phone sends the frame that holds it, and again when the peer receives the
  `input_audio_buffer.append` that holds it (its first sample over a threshold).
- model to ear: the peer answers with silence carrying the same kind of clicks, in 20 ms deltas
  paced in real time; a click is timed just after the peer sent its delta and when the phone
  receives the binary frame that holds it.

Both directions run at once, as in a conversation. Optional load: `--phones N` more phones
streaming speech-like audio and `--uploads` a 720x1280 frame every half second. p50 and p99 are
of the individual clicks.

Run: .venv/bin/python scripts/bench/voice_latency.py [--seconds 30] [--frame-ms 20]
     [--phones 4 --uploads] [--resampler soxr --reframe-ms 20]   (the relay as it was)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from aiohttp import ClientSession, WSMsgType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.frames import running_daemon
from scripts.bench.voice import phone as load_phone
from scripts.bench.voice import uploader
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime

PHONE_RATE = 16_000
MODEL_RATE = 24_000
CLICK = 0.7  # the click's sample value (float, full scale 1)
THRESHOLD = 0.01 * 32_768  # a received sample above this (-40 dBFS, in digital silence): a click
CLICK_EVERY_S = 0.25
MIN_GAP = MODEL_RATE // 10  # received samples between two clicks, at least


@dataclass
class ClickLog:
    """Send and arrival times of the clicks of one direction, in order."""

    sent: list[float] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    _received: int = 0  # samples received so far
    _last: int = -MIN_GAP

    def receive(self, pcm: bytes, at: float) -> None:
        """Note the arrival of each new click in a chunk of PCM16 received at `at`."""
        samples = np.frombuffer(pcm, dtype="<i2")
        for index in np.flatnonzero(np.abs(samples.astype(np.int32)) > THRESHOLD):
            position = self._received + int(index)
            if position - self._last >= MIN_GAP:
                self.arrived.append(at)
                self._last = position
        self._received += len(samples)

    def latencies_ms(self) -> npt.NDArray[np.float64]:
        """Arrival minus send of each click that arrived, in ms."""
        count = min(len(self.sent), len(self.arrived))
        gaps: npt.NDArray[np.float64] = np.subtract(self.arrived[:count], self.sent[:count])
        return gaps * 1000


def click_track(seconds: float, rate: int, rng: random.Random) -> npt.NDArray[np.float32]:
    """Silence with a lone click every CLICK_EVERY_S seconds, each at a random offset."""
    track = np.zeros(round(seconds * rate), dtype=np.float32)
    step = round(CLICK_EVERY_S * rate)
    for start in range(step, len(track) - step, step):
        track[start + rng.randrange(step // 2)] = CLICK
    return track


async def probe_phone(
    url: str,
    token: str,
    seconds: float,
    frame_ms: int,
    inbound: ClickLog,
    outbound: ClickLog,
    peer: FakeRealtime,
    answering: asyncio.Event,
) -> None:
    """Stream the click track in real time; time the tutor's clicks as they arrive."""
    frame = PHONE_RATE * frame_ms // 1000
    track = click_track(seconds, PHONE_RATE, random.Random(7))  # noqa: S311 - not crypto
    async with ClientSession() as session, session.ws_connect(f"{url}?token={token}") as ws:
        await ws.send_json({"type": "start"})
        ready = asyncio.Event()

        async def listen() -> None:
            async for message in ws:
                if message.type == WSMsgType.BINARY:
                    outbound.receive(message.data, time.perf_counter())
                elif '"ready"' in message.data:
                    ready.set()

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(ready.wait(), 10)
        await peer.respond()  # the tutor's clicks come back while the phone's go out
        answering.set()  # the load may start: the probe's is connection 0, answered first
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n, start in enumerate(range(0, len(track), frame)):
            chunk = track[start : start + frame]
            clicks = int(np.count_nonzero(chunk))
            data = chunk.astype("<f4").tobytes()
            now = time.perf_counter()
            inbound.sent.extend([now] * clicks)
            await ws.send_bytes(data)
            await asyncio.sleep(max(0.0, started + (n + 1) * frame_ms / 1000 - loop.time()))
        await asyncio.sleep(0.5)  # the last clicks' way back
        await ws.send_json({"type": "stop"})
        await listener


def tutor_clicks(peer: FakeRealtime, seconds: float, outbound: ClickLog) -> None:
    """Make the peer's answer a click track and time each click as its delta leaves."""
    track = (click_track(seconds, MODEL_RATE, random.Random(11)) * 32_767).astype("<i2")  # noqa: S311
    peer.reply_audio_ms = round(seconds * 1000)
    peer.delta_ms = 20
    peer.delta_interval = 0.02
    peer.reply_source = lambda start, count: track[start : start + count].tobytes()

    def sent(start: int, count: int) -> None:
        now = time.perf_counter()
        outbound.sent.extend([now] * int(np.count_nonzero(track[start : start + count])))

    peer.on_delta = sent


def row(label: str, latencies: npt.NDArray[np.float64], target: str) -> str:
    """One markdown row: p50, p99, max and count of a direction."""
    p50, p99 = np.percentile(latencies, [50, 99])
    return (
        f"| {label} | {p50:.2f} ms | {p99:.2f} ms | {latencies.max():.2f} ms"
        f" | {len(latencies)} | {target} |"
    )


async def run(
    seconds: float, frame_ms: int, phones: int, uploads: bool, relay: dict[str, str]
) -> None:
    """Start everything, probe, print the figures."""
    realtime, vision = FakeRealtime(auto_respond=False, speech_threshold=1e9), FakeOpenAI()
    await realtime.start()
    await vision.start()
    inbound, outbound = ClickLog(), ClickLog()
    realtime.on_append = lambda number, pcm: (
        inbound.receive(pcm, time.perf_counter()) if number == 0 else None
    )
    tutor_clicks(realtime, seconds, outbound)
    settings = {
        "STUDYLENS_OPENAI_BASE_URL": vision.base_url,
        "STUDYLENS_REALTIME_URL": realtime.websocket_base_url,
        **relay,
    }
    answering = asyncio.Event()

    async def after_the_probe(load: Coroutine[Any, Any, int]) -> int:
        await answering.wait()
        return await load

    async with running_daemon(settings) as daemon:
        ws_url = f"ws://127.0.0.1:{daemon.port}/ws"
        load = [load_phone(ws_url, seconds, daemon.token) for _ in range(phones)]
        if uploads:
            upload_url = f"{daemon.base}/api/upload-and-analyze"
            load.append(uploader(upload_url, seconds, daemon.token, (720, 1280)))
        await asyncio.gather(
            probe_phone(
                ws_url, daemon.token, seconds, frame_ms, inbound, outbound, realtime, answering
            ),
            *(after_the_probe(coroutine) for coroutine in load),
        )
    await realtime.stop()
    await vision.stop()
    realtime.assert_valid()
    lost = (len(inbound.sent) - len(inbound.arrived), len(outbound.sent) - len(outbound.arrived))
    print(
        f"{seconds:.0f} s, phone frames of {frame_ms} ms, {phones} more phones, uploads "
        f"{'on' if uploads else 'off'}, relay settings {relay or 'as shipped'}; "
        f"clicks not arrived (in, out): {lost}\n"
    )
    print("| direction | p50 | p99 | max | clicks | target |")
    print("|---|---|---|---|---|---|")
    print(row("mouth to model", inbound.latencies_ms(), "p50 <= 5 ms, p99 <= 12 ms"))
    print(row("model to ear", outbound.latencies_ms(), "p50 <= 1 ms, p99 <= 5 ms"))


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--frame-ms", type=int, default=20)
    parser.add_argument("--phones", type=int, default=0, help="more phones streaming speech")
    parser.add_argument("--uploads", action="store_true", help="a 720x1280 frame every 0.5 s")
    parser.add_argument("--resampler", help="the daemon's voice_resampler (default: as shipped)")
    parser.add_argument("--reframe-ms", help="the daemon's voice_frame_ms (default: unset)")
    args = parser.parse_args()
    relay = {}
    if args.resampler:
        relay["STUDYLENS_VOICE_RESAMPLER"] = args.resampler
    if args.reframe_ms:
        relay["STUDYLENS_VOICE_FRAME_MS"] = args.reframe_ms
    asyncio.run(run(args.seconds, args.frame_ms, args.phones, args.uploads, relay))


if __name__ == "__main__":
    main()
