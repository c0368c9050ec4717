"""On-device card making: how long a 40-page session takes, and what it costs the frame path.

1. Card making alone: `ClozeMaker` over 40 distinct pages (sentences of the team's banks, four
   topics), five passes; the median pass.
2. The frame path beside it: `LocalVision` (as the daemon builds it) analyses the same frames
   twice, once alone and once with a whole 40-page card-making pass started with every frame
   (as if a session ended at each: far more often than a daemon makes cards); p50 and p95 per
   frame of each run.

Run: .venv/bin/python scripts/bench/card_making.py [--pages 40] [--frames 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.app import make_local_vision
from edge.memory.cloze import ClozeMaker
from edge.memory.port import Page
from edge.settings import EdgeSettings
from edge.vision.local import LocalVision
from scripts.bench import vision_local

SEED = 20


def pages(count: int, rng: random.Random) -> list[Page]:
    """`count` distinct pages of five sentences each, topics in turn."""
    out = []
    for n in range(count):
        topic = vision_local.TOPICS[n % len(vision_local.TOPICS)]
        text = " ".join(rng.sample(vision_local.BANKS[topic], 5))
        out.append(Page(f"event-{n}", topic, None, text))
    return out


async def time_frames(
    reader: LocalVision,
    frames: list[bytes],
    beside: ClozeMaker | None = None,
    cards: tuple[Page, ...] = (),
) -> list[float]:
    """Seconds per frame, one frame at a time as the daemon runs them (with a pass beside)."""
    out = []
    for frame in frames:
        making = asyncio.ensure_future(beside.make(cards, 8)) if beside is not None else None
        began = time.perf_counter()
        await reader.analyse(frame)
        out.append(time.perf_counter() - began)
        if making is not None:
            await making
    return out


def summary(seconds: list[float]) -> str:
    """p50 and p95 in ms."""
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms"


async def run(args: argparse.Namespace) -> None:
    """Both measurements, printed."""
    rng = random.Random(SEED)  # noqa: S311 - a reproducible bench
    session = pages(args.pages, rng)
    maker = ClozeMaker()
    await maker.make(session[:1], 1)  # load the lexicon: the daemon does it once
    passes = []
    made = 0
    for _ in range(5):
        began = time.perf_counter()
        made = len(await maker.make(session, 8))
        passes.append(time.perf_counter() - began)
    print(
        f"Card making, {args.pages} pages: {made} cards, median pass "
        f"{statistics.median(passes) * 1000:.0f} ms (of 5)"
    )

    frames = [
        vision_local.model_input(jpeg)
        for label, jpeg in vision_local.dataset(max(1, args.frames // 4), 0, SEED)
    ][: args.frames]
    with tempfile.TemporaryDirectory() as data_dir:
        reader = make_local_vision(EdgeSettings(data_dir=Path(data_dir)))
        try:
            await reader.analyse(frames[0])  # model load, not timed
            idle = await time_frames(reader, frames)
            busy = await time_frames(reader, frames, maker, tuple(session))
        finally:
            await reader.close()
            await maker.close()
    print(f"Frames alone ({len(frames)}): {summary(idle)}")
    print(f"Frames each beside a card-making pass: {summary(busy)}")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="distinct pages of the session")
    parser.add_argument("--frames", type=int, default=30, help="frames analysed per run")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
