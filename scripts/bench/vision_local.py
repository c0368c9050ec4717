"""Evaluation of the on-device analyser, and of hybrid mode's savings.

1. A labelled set made here: pages of Biology, Math, English and Chemistry text (sentences drawn
   from per-topic banks, rendered with Pillow) and non-study scenes (noise photos, a social
   feed, a shopping list), each "photographed": perspective, rotation, blur, uneven light and
   partial occlusion. Reported: topic accuracy and confusion matrix over the study pages,
   `isStudying` precision and recall over all, and time per frame (the daemon's model size).
2. Hybrid: sequences that imitate a study session (long stretches on one page with camera
   jitter, occasional page turns and topic changes), analysed by HybridVision in front of the
   fake model peer from tests/ answering with the true label; reported: share of model calls
   saved, and topic agreement with calling the model on every frame.

Run: .venv/bin/python scripts/bench/vision_local.py [--per-topic 25] [--scenes 24] [--frames 120]
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
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.frames.images import prepare
from edge.settings import HybridSettings
from edge.vision.hybrid import HybridVision
from edge.vision.local import LocalVision
from edge.vision.openai_vision import OpenAIVision
from scripts.bench.pagedraw import tilt
from tests.fakes.images import scene
from tests.fakes.openai_peer import FakeOpenAI

TOPICS = ("Biology", "Math", "English", "Chemistry")
BANKS = {
    "Biology": [
        "Mitosis produces two identical daughter cells.",
        "During prophase each chromosome condenses.",
        "Photosynthesis takes place in the chloroplasts.",
        "The Calvin cycle fixes carbon dioxide into sugar.",
        "Enzymes are proteins that speed up reactions in the cell.",
        "DNA is copied before the cell divides.",
        "Natural selection drives the evolution of species.",
        "The cell membrane controls what enters the cytoplasm.",
        "Mitochondria release energy by respiration.",
        "An allele is a version of a gene.",
    ],
    "Math": [
        "Solve the quadratic equation x^2 - 5x + 6 = 0.",
        "Find the derivative of f(x) = 3x^2 + 2x.",
        "The integral of 2x dx is x^2 + C.",
        "In a right triangle the hypotenuse is the longest side.",
        "Use Pythagoras: a^2 + b^2 = c^2.",
        "sin(x) and cos(x) repeat every 2 pi.",
        "A polynomial of degree two is quadratic.",
        "The slope of the function is its derivative.",
        "Multiply the matrix by the vector.",
        "The probability of two heads is one quarter.",
    ],
    "English": [
        "The poem uses a metaphor in every stanza.",
        "Alliteration repeats the first sound of words.",
        "The narrator of the novel cannot be trusted.",
        "Shakespeare wrote Hamlet and Macbeth.",
        "A sonnet has fourteen lines.",
        "The protagonist changes in the last chapter.",
        "Underline each verb and circle each noun.",
        "Figurative language includes the simile.",
        "Write an essay with a clear thesis paragraph.",
        "The adjective describes the noun.",
    ],
    "Chemistry": [
        "Atoms share electrons in a covalent bond.",
        "Ionic compounds such as NaCl dissolve in water.",
        "An acid has a pH below seven.",
        "Oxidation is the loss of electrons.",
        "One mole contains Avogadro's number of atoms.",
        "A catalyst speeds up a reaction.",
        "The periodic table groups the elements.",
        "Isotopes have different numbers of neutrons.",
        "Titration finds the concentration of an acid.",
        "The reaction reaches equilibrium.",
    ],
}
NOT_STUDY = [
    ["Reels · For you", "2.1M likes · 300 comments", "Subscribe for more", "Trending now"],
    ["Shopping list", "milk, bread, apples", "call the dentist", "pick up laundry"],
    ["Next episode in 5", "Watch later", "Season 2 · Episode 7"],
]


def render(lines: list[str], rng: random.Random) -> Image.Image:
    """A page of text in a random size on white paper."""
    size = rng.choice([34, 38, 42, 46])
    page = Image.new("RGB", (1280, 960), (250, 250, 245))
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=size)
    for row, line in enumerate(lines):
        draw.text((70, 80 + row * int(size * 1.7)), line, fill=(20, 20, 25), font=font)
    return page


def photograph(image: Image.Image, rng: random.Random) -> bytes:
    """Perspective, rotation, blur, uneven light, partial occlusion; as a phone JPEG."""
    w, h = image.size
    image = tilt(image, rng, corner=0.06, degrees=6)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.4)))
    light = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(0, 360))
    shade = Image.new("RGB", (w, h), (0, 0, 0))
    image = Image.composite(image, Image.blend(image, shade, 0.35), light)
    if rng.random() < 0.5:  # a hand or pen over part of the page
        draw = ImageDraw.Draw(image)
        x, y = rng.uniform(0.55, 0.9) * w, rng.uniform(0.5, 0.9) * h
        draw.ellipse((x, y, x + 0.25 * w, y + 0.35 * h), fill=(205, 160, 130))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def study_page(topic: str, rng: random.Random) -> Image.Image:
    """A fresh page of four sentences about `topic`."""
    return render(rng.sample(BANKS[topic], 4), rng)


def dataset(per_topic: int, scenes: int, seed: int) -> list[tuple[str, bytes]]:
    """(label, jpeg) pairs; label is a topic or "none"."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible data set, not a secret
    items = [(t, photograph(study_page(t, rng), rng)) for t in TOPICS for _ in range(per_topic)]
    for n in range(scenes):
        image = render(NOT_STUDY[n % len(NOT_STUDY)], rng) if n % 2 else scene(1280, 960, seed=n)
        items.append(("none", photograph(image, rng)))
    return items


def model_input(jpeg: bytes) -> bytes:
    """What the daemon hands an analyser: the prepared frame (short side <= 768)."""
    return prepare(jpeg, "jpeg", short_side=768, max_pixels=50_000_000, quality=80).jpeg


async def evaluate(items: list[tuple[str, bytes]], reader: LocalVision) -> None:
    """Print accuracy, the confusion matrix, isStudying precision and recall, and timings."""
    confusion: Counter[tuple[str, str]] = Counter()
    seconds = []
    tp = fp = fn = 0
    for label, jpeg in items:
        frame = model_input(jpeg)
        began = time.perf_counter()
        answer = await reader.analyse(frame)
        seconds.append(time.perf_counter() - began)
        analysis = json.loads(answer.text)
        if label != "none":
            confusion[(label, analysis["topic"])] += 1
        studying = analysis["isStudying"]
        tp += studying and label != "none"
        fp += studying and label == "none"
        fn += (not studying) and label != "none"
    study = [i for i in items if i[0] != "none"]
    right = sum(n for (truth, guess), n in confusion.items() if truth == guess)
    columns = [*TOPICS, "Unknown"]
    print(
        f"\n{len(items)} images: {len(study)} study pages, {len(items) - len(study)} other scenes"
    )
    print(f"\nTopic accuracy: **{right / len(study):.1%}** ({right}/{len(study)})\n")
    print("| true \\ said | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for truth in TOPICS:
        print(f"| {truth} | " + " | ".join(str(confusion[(truth, c)]) for c in columns) + " |")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    print(f"\n`isStudying`: precision {precision:.1%}, recall {recall:.1%}")
    print(
        f"Time per frame (768 px short side): mean {statistics.mean(seconds) * 1000:.0f} ms, "
        f"p50 {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"
    )


def session(frames: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """Frames of a study session: stretches on one page, page turns, topic changes."""
    out: list[tuple[str, bytes]] = []
    topic = rng.choice(TOPICS)
    page = study_page(topic, rng)
    while len(out) < frames:
        stretch = rng.randint(8, 25)
        for _ in range(min(stretch, frames - len(out))):
            out.append((topic, model_input(photograph(page, rng))))
        if rng.random() < 0.35:
            topic = rng.choice([t for t in TOPICS if t != topic])
        page = study_page(topic, rng)
    return out


async def hybrid(frames: int, seed: int, reader: LocalVision) -> None:
    """Print the share of model calls hybrid mode saves, and its topic agreement."""
    from openai import AsyncOpenAI

    peer = FakeOpenAI()
    await peer.start()
    client = AsyncOpenAI(api_key="sk-bench", base_url=peer.base_url, max_retries=0)
    model = OpenAIVision(client, model="gpt-4.1", detail="low", topics=TOPICS, max_text_chars=300)
    mixed = HybridVision(reader, model, HybridSettings())
    agree = 0
    sequence = session(frames, random.Random(seed))  # noqa: S311 - reproducible
    try:
        for truth, frame in sequence:
            # The fake model answers with the true label: every-frame calling would be right.
            peer.analysis = dict(peer.analysis, topic=truth)
            answer = json.loads((await mixed.analyse(frame)).text)
            agree += answer["topic"] == truth
    finally:
        await model.close()
        await peer.stop()
    calls = len(peer.requests)
    print(
        f"\nHybrid over a {len(sequence)}-frame session: {calls} model calls, "
        f"**{1 - calls / len(sequence):.0%} saved**; topic agreement with calling the model "
        f"on every frame: **{agree / len(sequence):.1%}**"
    )


async def run(per_topic: int, scenes: int, frames: int, seed: int) -> None:
    """Both evaluations."""
    with tempfile.TemporaryDirectory() as cache:
        reader = LocalVision(cache_dir=Path(cache), max_text_chars=300)
        await evaluate(dataset(per_topic, scenes, seed), reader)
        await hybrid(frames, seed, reader)
        await reader.close()


def main() -> None:
    """Parse arguments and run the evaluation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topic", type=int, default=25, help="pages per topic")
    parser.add_argument("--scenes", type=int, default=24, help="non-study scenes")
    parser.add_argument("--frames", type=int, default=120, help="frames of the hybrid session")
    parser.add_argument("--seed", type=int, default=1125)
    args = parser.parse_args()
    asyncio.run(run(args.per_topic, args.scenes, args.frames, args.seed))


if __name__ == "__main__":
    main()
