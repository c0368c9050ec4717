"""Benchmark of the voice relay under load: latency it adds, and event-loop lag.

The daemon runs as its own process; in this process run the fake Realtime peer and fake vision
peer from tests/ and four phones, each streaming 20 ms Float32 frames in real time (speech and
pauses, so the peer answers with audio), while a 720x1280 frame (the glasses' video size) is
uploaded every half second. Figures come from the daemon's own histograms at /metrics (p99 as
the upper edge of its bucket).

Run: .venv/bin/python scripts/bench/voice.py [--seconds 20] [--phones 4]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import sys
from pathlib import Path

import numpy as np
from aiohttp import ClientSession, FormData, WSMsgType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.frames import photo_like_jpeg, running_daemon
from tests.fakes.openai_peer import FakeOpenAI
from tests.fakes.realtime_peer import FakeRealtime

FRAME = 320  # 20 ms at 16 kHz


def speech_pattern(seconds: float) -> np.ndarray:
    """1.2 s of a voiced tone, 1 s of silence, repeated: the peer answers after each pause."""
    t = np.arange(int(16_000 * 1.2)) / 16_000
    voiced = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
    cycle = np.concatenate([voiced, np.zeros(16_000)])
    repeats = int(np.ceil(seconds * 16_000 / len(cycle)))
    return np.tile(cycle, repeats)[: int(seconds * 16_000)].astype(np.float32)


async def phone(url: str, seconds: float, token: str) -> int:
    """Stream audio in real time; return the bytes of tutor audio received."""
    received = 0
    samples = speech_pattern(seconds)
    async with ClientSession() as session, session.ws_connect(f"{url}?token={token}") as ws:
        await ws.send_json({"type": "start"})
        ready = asyncio.Event()

        async def listen() -> None:
            nonlocal received
            async for message in ws:
                if message.type == WSMsgType.BINARY:
                    received += len(message.data)
                elif '"ready"' in message.data:
                    ready.set()

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(ready.wait(), 10)  # as the protocol says: talk after `ready`
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n, start in enumerate(range(0, len(samples), FRAME)):
            await ws.send_bytes(samples[start : start + FRAME].astype("<f4").tobytes())
            await asyncio.sleep(max(0.0, started + (n + 1) * 0.02 - loop.time()))
        await ws.send_json({"type": "stop"})
        await listener
    return received


async def uploader(
    url: str, seconds: float, token: str, size: tuple[int, int] = (720, 1280)
) -> int:
    """Upload a frame (the glasses' 720x1280) every half second; return how many were answered."""
    data = [photo_like_jpeg(*size, seed) for seed in range(4)]
    done = 0
    async with ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for n in range(int(seconds * 2)):
            form = FormData()
            form.add_field(
                "image", io.BytesIO(data[n % 4]), filename="f.jpg", content_type="image/jpeg"
            )
            async with session.post(url, data=form) as response:
                done += response.status == 200
            await asyncio.sleep(0.5)
    return done


def p99_upper(metrics: str, name: str, labels: str = "") -> tuple[float, float, int]:
    """(p50, p99) as the upper edges of their buckets, and the count, from a histogram."""
    pattern = re.compile(
        rf'^{name}_bucket\{{{labels}{"," if labels else ""}le="([^"]+)"\}} (\S+)$', re.M
    )
    buckets = [(float(le), float(count)) for le, count in pattern.findall(metrics)]
    total = buckets[-1][1]

    def edge(q: float) -> float:
        return next(le for le, count in buckets if count >= q * total)

    return edge(0.5), edge(0.99), int(total)


async def run(seconds: float, phones: int, uploads: bool = True) -> None:
    """Start everything, load it, print the figures."""
    realtime, vision = FakeRealtime(), FakeOpenAI()
    await realtime.start()
    await vision.start()
    realtime.delta_interval = 0.04
    realtime.reply_audio_ms = 1500
    settings = {
        "STUDYLENS_OPENAI_BASE_URL": vision.base_url,
        "STUDYLENS_REALTIME_URL": realtime.websocket_base_url,
    }
    async with running_daemon(settings) as daemon:
        results = await asyncio.gather(
            *(
                phone(f"ws://127.0.0.1:{daemon.port}/ws", seconds, daemon.token)
                for _ in range(phones)
            ),
            uploader(
                f"{daemon.base}/api/upload-and-analyze", seconds if uploads else 0, daemon.token
            ),
        )
        # /metrics is the owner's: this computer, no token (open_on_localhost).
        async with (
            ClientSession() as session,
            session.get(f"{daemon.base}/metrics") as response,
        ):
            metrics = await response.text()
    await realtime.stop()
    await vision.stop()
    realtime.assert_valid()
    print(
        f"{phones} phones for {seconds:.0f} s, {results[-1]} frames uploaded meanwhile; "
        f"tutor audio received per phone: {[round(r / 48_000, 1) for r in results[:-1]]} s\n"
    )
    print("| measure | p50 (<=) | p99 (<=) | samples | target |")
    print("|---|---|---|---|---|")
    rows = [
        (
            "relay latency, phone frame -> append sent",
            "studylens_voice_relay_latency_seconds",
            'direction="to_model"',
            "p99 < 25 ms",
        ),
        (
            "relay latency, model delta -> phone frame sent",
            "studylens_voice_relay_latency_seconds",
            'direction="to_phone"',
            "p99 < 25 ms",
        ),
        ("event-loop lag", "studylens_event_loop_lag_seconds", "", "p99 < 5 ms"),
    ]
    for label, name, labels, target in rows:
        p50, p99, count = p99_upper(metrics, name, labels)
        print(f"| {label} | {p50 * 1000:g} ms | {p99 * 1000:g} ms | {count} | {target} |")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--phones", type=int, default=4)
    parser.add_argument("--no-uploads", action="store_true", help="voice streams only")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.phones, uploads=not args.no_uploads))


if __name__ == "__main__":
    main()
