"""Benchmark of the frame pipeline: the daemon's own time per frame, and bytes to the model.

The daemon runs as its own process (`studylens-edge serve`), as in production. The vision model
is the fake OpenAI peer from tests/ on loopback in this process, answering instantly (or after a
fixed delay), so what is measured is the daemon: multipart upload, validation, Pillow
preparation, hashing, storing, the SDK request, SQLite, response, as seen by the client. The
floor is Pillow decoding the same JPEG at the draft scale the pipeline's re-encode path uses, in
the same run (a glasses frame that fits the model is not decoded at that scale at all: it goes as
its own bytes, hashed from a 1/8-scale decode).

Run: .venv/bin/python scripts/bench/frames.py [--requests 40] [--slow-requests 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from aiohttp import ClientSession, FormData
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge import pairing
from edge.frames.images import draft_factor
from edge.settings import FrameSettings
from edge.store import open_database
from tests.fakes.openai_peer import FakeOpenAI

MODEL_SHORT_SIDE = FrameSettings().model_image_short_side


def photo_like_jpeg(
    width: int, height: int, seed: int = 0, noise: float = 12, orientation: int | None = None
) -> bytes:
    """Gradients plus sensor-like noise: compresses like a photo (12 MP -> about 3 MB).

    `noise` 6 is a phone's denoised video frame: 720x1280 comes to about 127 KB, the upper end
    of what a phone app sends for a glasses frame; 12 (a camera photo's grain) to 236 KB.
    """
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 255, height)[:, None] * np.ones((1, width))
    x = np.ones((height, 1)) * np.linspace(0, 255, width)[None, :]
    base = np.stack([(x + y) / 2, y, x], axis=-1)
    pixels = np.clip(base + rng.normal(0, noise, (height, width, 3)), 0, 255).astype(np.uint8)
    params: dict[str, object] = {"quality": 85}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", **params)
    return out.getvalue()


def draft_decode_ms(data: bytes, bound: int, runs: int) -> list[float]:
    """Time Pillow needs only to decode `data` at the pipeline's draft scale."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with Image.open(io.BytesIO(data)) as image:
            k = draft_factor(min(image.size), bound)
            if k > 1:
                image.draft("RGB", (image.width // k, image.height // k))
            image.load()
        times.append((time.perf_counter() - started) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def post_frames(
    url: str, data: bytes, count: int, token: str = ""
) -> tuple[list[float], list[float], list[float]]:
    """Post the frame `count` times, one after another.

    Returns, in ms: the daemon's time after receiving the body (Server-Timing `app`), the part of
    it spent waiting for the model (`model`), and the client's round trips.
    """
    times: list[float] = []
    daemon: list[float] = []
    model: list[float] = []
    async with ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for _ in range(count):
            form = FormData()
            form.add_field("image", io.BytesIO(data), filename="f.jpg", content_type="image/jpeg")
            started = time.perf_counter()
            async with session.post(url, data=form) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"upload failed: {response.status} {await response.text()}")
            times.append((time.perf_counter() - started) * 1000)
            timing = dict(
                part.strip().split(";dur=") for part in response.headers["Server-Timing"].split(",")
            )
            daemon.append(float(timing["app"]))
            model.append(float(timing["model"]))
    return daemon, model, times


async def wait_until_up(base: str, daemon: subprocess.Popen[bytes]) -> None:
    """Poll /healthz until the daemon answers (it may be installing nothing; it just starts)."""
    async with ClientSession() as session:
        for _ in range(200):
            if daemon.poll() is not None:
                raise RuntimeError("the daemon exited during start-up")
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the daemon did not start in 10 s")


def device_token(data_dir: Path) -> str:
    """Pair a bench "phone" straight in the daemon's data dir (as `pair` + POST /api/pair)."""
    db = open_database(data_dir / "studylens.db")
    try:
        now = datetime.now(UTC)
        code = pairing.new_code(db, now, timedelta(minutes=5))
        return pairing.redeem(db, code.code, "bench", now).token
    finally:
        db.close()


@dataclass(frozen=True)
class Daemon:
    """A daemon process under test: where it listens, and a paired device's token."""

    base: str
    port: int
    token: str


@contextlib.asynccontextmanager
async def running_daemon(settings: dict[str, str]) -> AsyncIterator[Daemon]:
    """Run `studylens-edge serve` in its own process on a fresh data dir, as in production."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "STUDYLENS_OPENAI_API_KEY": "sk-bench",
            "STUDYLENS_LOG_LEVEL": "WARNING",
            "STUDYLENS_CONFIG": "",
            "STUDYLENS_MDNS": "false",
            **settings,
        }
        command = [str(Path(sys.executable).parent / "studylens-edge"), "serve"]
        daemon = subprocess.Popen(  # noqa: S603, ASYNC220 - started once, before measuring
            [*command, "--port", str(port), "--data-dir", tmp], env=env
        )
        try:
            await wait_until_up(base, daemon)
            yield Daemon(base, port, device_token(Path(tmp)))
        finally:
            daemon.terminate()
            daemon.wait(timeout=20)


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run(requests: int, slow_requests: int) -> None:
    """Measure and print a markdown report."""
    peer = FakeOpenAI()
    await peer.start()
    settings = {
        "STUDYLENS_OPENAI_BASE_URL": peer.base_url,
        "STUDYLENS_DEDUPE_FRAMES": "false",  # every frame takes the full path to the model
    }
    async with running_daemon(settings) as daemon:
        url = f"{daemon.base}/api/upload-and-analyze"
        await measure(url, daemon.token, peer, requests, slow_requests)
    await peer.stop()


def bench_frames() -> dict[str, bytes]:
    """The frames measured: the glasses toolkit's sizes (portrait), a phone photo, 12 MP."""
    return {
        "12 MP photo-like JPEG (4000x3000)": photo_like_jpeg(4000, 3000),
        "1280x960 JPEG": photo_like_jpeg(1280, 960, seed=1),
        "glasses 720x1280": photo_like_jpeg(720, 1280, seed=2, noise=6),
        "glasses 504x896": photo_like_jpeg(504, 896, seed=3, noise=6),
        "glasses 360x640": photo_like_jpeg(360, 640, seed=4, noise=6),
        "720x1280 over 150 KB": photo_like_jpeg(720, 1280, seed=5),
        "720x1280, EXIF orientation 6": photo_like_jpeg(720, 1280, seed=6, noise=6, orientation=6),
    }


def numbered(data: bytes, number: int) -> bytes:
    """The frame with a comment that makes it new bytes, as every real frame is.

    So each upload is a new original to store under a new SHA-256, as in production; the
    comment is metadata, so what the model gets is the same for every copy.
    """
    comment = f"bench frame {number}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def sent_to_model(peer: FakeOpenAI, uploaded: bytes) -> str:
    """What the model got for the last frame: the upload's own bytes, or a re-encoded JPEG."""
    image_url = peer.requests[-1]["input"][0]["content"][1]["image_url"]
    encoded = image_url.split(",", 1)[1]
    jpeg = base64.b64decode(encoded)
    if jpeg == uploaded:  # the bench's frames carry no metadata but their comment
        how = "as sent, comment stripped"
    else:
        with Image.open(io.BytesIO(jpeg)) as image:
            how = f"re-encoded {image.width}x{image.height}"
    return f"{len(jpeg):,} B {how} ({len(encoded):,} base64 chars)"


async def measure(
    url: str, token: str, peer: FakeOpenAI, requests: int, slow_requests: int
) -> None:
    """Post each frame size, then the slow-model case; print markdown."""
    frames = bench_frames()
    print("All times in ms. Edge overhead = daemon minus its model call.\n")
    print(
        "| frame | bytes | floor p50 | daemon p50 | daemon p99 | daemon p50 / floor "
        "| of which model call p50 | **edge overhead p50** | **edge overhead p99** "
        "| client round trip p50 | image to model |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, data in frames.items():
        for number in range(3):  # warm up
            await post_frames(url, numbered(data, -number), 1, token)
        # Floor and daemon samples alternate, so drift in this shared machine's speed hits both.
        floor: list[float] = []
        daemon: list[float] = []
        model: list[float] = []
        own: list[float] = []
        round_trips: list[float] = []
        for number in range(requests):
            floor += draft_decode_ms(data, MODEL_SHORT_SIDE, 1)
            app, waited, trip = await post_frames(url, numbered(data, number), 1, token)
            daemon += app
            model += waited
            own.append(app[0] - waited[0])
            round_trips += trip
        print(
            f"| {name} | {len(data):,} | {statistics.median(floor):.1f} "
            f"| {statistics.median(daemon):.1f} | {pct(daemon, 0.99):.1f} "
            f"| {statistics.median(daemon) / statistics.median(floor):.2f} "
            f"| {statistics.median(model):.1f} | {statistics.median(own):.1f} "
            f"| {pct(own, 0.99):.1f} | {statistics.median(round_trips):.1f} "
            f"| {sent_to_model(peer, data)} |"
        )
    peer.delay = 2.0
    slow: list[float] = []
    for number in range(slow_requests):
        slow += (await post_frames(url, numbered(frames["1280x960 JPEG"], number), 1, token))[2]
    print(
        f"\nModel answering after 2 s, 1280x960, {slow_requests} requests: end-to-end p50 "
        f"{statistics.median(slow):.0f} ms (over the model: "
        f"{statistics.median(slow) - 2000:.0f} ms), max {max(slow):.0f} ms"
    )


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per frame size")
    parser.add_argument("--slow-requests", type=int, default=8, help="requests with a 2 s model")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.slow_requests))


if __name__ == "__main__":
    main()
