"""Honest evaluation of the on-device analyser: the team's set and an independent one, each split.

Two labelled sets, each in a `dev` part (for tuning) and a `heldout` part (for reporting only):

- `team`: the set of `scripts/bench/vision_local.py` (sentence banks written with the lexicon),
  its images dealt into the two parts by a seeded shuffle per label. Both parts share the banks,
  so on this set the split holds out images, not text.
- `independent`: `scripts/bench/pagesets.py`, pages made from WordNet, GCIDE and fortunes text
  (Debian packages, see `pagesources`), whose every pool is cut in two disjoint halves, so held-out
  pages show entries that no dev page shows.

Each image is analysed at two resolutions, both through the daemon's own frame preparation: the
phone's photo (short side 768 after preparation) and the glasses' frame (720 px, motion blur,
JPEG quality 70). `LocalVision` is built as the daemon builds it (`edge.app.make_local_vision`,
default settings: 2 OCR threads). Per set, part and resolution: topic accuracy overall and per
topic, a confusion matrix, `isStudying` precision and recall, time per frame p50/p95.

Needs: apt-get install wordnet-base dict-gcide fortunes fonts-dejavu-core fonts-liberation2
fonts-freefont-ttf fonts-dkg-handwriting fonts-humor-sans fonts-comic-neue fonts-breip
fonts-femkeklaver

Run: .venv/bin/python scripts/bench/analyser_eval.py [--quick] [--per-topic 24] [--scenes 24]
     [--part dev|heldout|both] [--dump dev.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.app import make_local_vision
from edge.frames.images import prepare
from edge.settings import EdgeSettings
from edge.vision.local import LocalVision
from scripts.bench import pagedraw, pagesets, pagesources, vision_local
from scripts.bench.pagesets import Item

RESOLUTIONS = ("phone", "glasses")
TEAM_SEED = 1125  # vision_local.py's own


@dataclass(frozen=True)
class Outcome:
    """What the analyser said about one image at one resolution."""

    item: Item
    resolution: str
    topic: str
    studying: bool
    seconds: float
    text: str


def team_set(per_topic: int, scenes: int, seed: int) -> list[Item]:
    """vision_local's set at twice the size, dealt into dev and heldout per label."""
    items = vision_local.dataset(2 * per_topic, 2 * scenes, TEAM_SEED)
    rng = random.Random(seed)  # noqa: S311 - a reproducible split
    out = []
    for label in [*pagesources.TOPICS, "none"]:
        mine = [jpeg for truth, jpeg in items if truth == label]
        rng.shuffle(mine)
        for n, jpeg in enumerate(mine):
            with Image.open(io.BytesIO(jpeg)) as opened:
                glasses = pagedraw.glasses_frame(opened.convert("RGB"), rng)
            split = "dev" if n < len(mine) // 2 else "heldout"
            out.append(Item(split, label, "team", "", jpeg, glasses))
    return out


def independent_set(per_topic: int, scenes: int, seed: int) -> list[Item]:
    """The pages of `pagesets`, from the installed Debian data; exits with a hint without it."""
    try:
        sources = pagesources.load()
        fonts = pagedraw.Fonts.installed()
    except (pagesources.MissingData, FileNotFoundError) as exc:
        sys.exit(f"analyser_eval: {exc}")
    return pagesets.dataset(pagesources.split(sources, seed), per_topic, scenes, fonts, seed)


async def analyse_all(
    items: list[Item], reader: LocalVision, settings: EdgeSettings
) -> list[Outcome]:
    """Every item at both resolutions, one frame at a time (as the daemon runs them)."""
    frames = settings.frames
    out = []
    for item in items:
        for resolution in RESOLUTIONS:
            data = item.phone if resolution == "phone" else item.glasses
            frame = prepare(
                data,
                "jpeg",
                short_side=frames.model_image_short_side,
                max_pixels=frames.max_image_pixels,
                quality=frames.model_image_quality,
            ).jpeg
            began = time.perf_counter()
            answer = await reader.analyse(frame)
            seconds = time.perf_counter() - began
            analysis = json.loads(answer.text)
            out.append(
                Outcome(
                    item,
                    resolution,
                    analysis["topic"],
                    analysis["isStudying"],
                    seconds,
                    analysis["extractedText"],
                )
            )
    return out


def _pct(n: int, d: int) -> str:
    return f"{n / d:.0%}" if d else "—"


def report(name: str, split: str, resolution: str, outcomes: list[Outcome]) -> None:
    """One table: accuracy, per topic, confusion matrix, isStudying, timings."""
    study = [o for o in outcomes if o.item.label != "none"]
    right = sum(o.topic == o.item.label for o in study)
    confusion = Counter((o.item.label, o.topic) for o in outcomes)
    said = sorted({o.topic for o in outcomes} - {*pagesources.TOPICS, "Unknown"})
    columns = [*pagesources.TOPICS, *said, "Unknown"]
    tp = sum(o.studying for o in study)
    fp = sum(o.studying for o in outcomes if o.item.label == "none")
    ms = sorted(o.seconds * 1000 for o in outcomes)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"\n#### {name} / {split} / {resolution} ({len(study)} pages, "
        f"{len(outcomes) - len(study)} other scenes)\n"
    )
    per_topic = ", ".join(
        f"{t} {confusion[(t, t)]}/{sum(o.item.label == t for o in study)}"
        for t in pagesources.TOPICS
    )
    print(f"Topic accuracy **{_pct(right, len(study))}** ({right}/{len(study)}): {per_topic}.")
    print(f"`isStudying` precision {_pct(tp, tp + fp)}, recall {_pct(tp, len(study))}.")
    print(f"Time per frame p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms.\n")
    print("| true \\ said | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for truth in [*pagesources.TOPICS, "none"]:
        cells = " | ".join(str(confusion[(truth, c)]) for c in columns)
        print(f"| {'(not study)' if truth == 'none' else truth} | {cells} |")


def summary(name: str, outcomes: list[Outcome], parts: tuple[str, ...]) -> None:
    """One line per part and resolution, for the table at the head of BENCHMARKS.md's section."""
    for split in parts:
        for resolution in RESOLUTIONS:
            mine = [o for o in outcomes if o.item.split == split and o.resolution == resolution]
            study = [o for o in mine if o.item.label != "none"]
            right = sum(o.topic == o.item.label for o in study)
            worst = min(
                (sum(o.topic == t for o in study if o.item.label == t), t)
                for t in pagesources.TOPICS
            )
            per = max(1, sum(o.item.label == worst[1] for o in study))
            tp = sum(o.studying for o in study)
            fp = sum(o.studying for o in mine if o.item.label == "none")
            ms = [o.seconds * 1000 for o in mine]
            print(
                f"| {name} | {split} | {resolution} | {_pct(right, len(study))} | "
                f"{worst[1]} {_pct(worst[0], per)} | {_pct(tp, tp + fp)} | "
                f"{_pct(tp, len(study))} | {statistics.median(ms):.0f} ms |"
            )


def dump(path: Path, outcomes: list[Outcome]) -> None:
    """The dev part's outcomes with their OCR text, for tuning; held-out text is never written."""
    with path.open("w", encoding="utf-8") as out:
        for o in outcomes:
            if o.item.split == "dev":
                row = {
                    "label": o.item.label,
                    "kind": o.item.kind,
                    "resolution": o.resolution,
                    "topic": o.topic,
                    "studying": o.studying,
                    "ocr": o.text,
                    "drawn": o.item.text,
                }
                out.write(json.dumps(row) + "\n")


async def run(args: argparse.Namespace) -> None:
    """Build both sets, analyse them, print the tables."""
    began = time.perf_counter()
    sets = {
        "team": team_set(args.team_per_topic, args.team_scenes, args.seed),
        "independent": independent_set(args.per_topic, args.scenes, args.seed),
    }
    print(
        f"Sets built in {time.perf_counter() - began:.0f} s: "
        + ", ".join(f"{k} {len(v)} images" for k, v in sets.items())
    )
    if args.part != "both":
        sets = {name: [i for i in items if i.split == args.part] for name, items in sets.items()}
    parts = ("dev", "heldout") if args.part == "both" else (args.part,)
    results: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        settings = EdgeSettings(data_dir=Path(data_dir))
        reader = make_local_vision(settings)
        try:
            # Loading the OCR models costs the daemon's first frame about a second: not timed.
            await reader.analyse(sets["team"][0].phone)
            for name, items in sets.items():
                results[name] = await analyse_all(items, reader, settings)
        finally:
            await reader.close()
    for name, outcomes in results.items():
        for split in parts:
            for resolution in RESOLUTIONS:
                mine = [o for o in outcomes if o.item.split == split and o.resolution == resolution]
                report(name, split, resolution, mine)
    print(
        "\n| set | part | resolution | topic accuracy | worst topic | isStudying precision "
        "| recall | p50 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, outcomes in results.items():
        summary(name, outcomes, parts)
    if args.dump:
        dump(args.dump, [o for outcomes in results.values() for o in outcomes])
    print(f"\nTotal {time.perf_counter() - began:.0f} s")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the evaluation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-topic", type=int, default=24, help="independent pages per topic, per part"
    )
    parser.add_argument("--scenes", type=int, default=24, help="independent other scenes, per part")
    parser.add_argument(
        "--team-per-topic", type=int, default=6, help="team pages per topic, per part"
    )
    parser.add_argument("--team-scenes", type=int, default=6, help="team other scenes, per part")
    parser.add_argument("--seed", type=int, default=19, help="seed of the splits and pages")
    parser.add_argument("--quick", action="store_true", help="2 pages per topic and 2 scenes")
    parser.add_argument("--dump", type=Path, help="write the dev part's outcomes (JSON lines)")
    parser.add_argument(
        "--part",
        choices=("dev", "heldout", "both"),
        default="both",
        help="analyse one part only (tuning runs: dev)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.per_topic = args.scenes = args.team_per_topic = args.team_scenes = 2
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
