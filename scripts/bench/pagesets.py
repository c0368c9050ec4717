"""The independent evaluation set: page photos made from `pagesources`, in other fonts and layouts.

Study pages of each topic in four layouts: a textbook page (heading, paragraphs, a figure box), a
two-column glossary page, a worksheet with numbered exercises and handwritten answers, notes on
lined paper (Math mostly on grid paper); English adds an essay plan around a literature quotation,
and its worksheets alternate subject terms with vocabulary. Math pages carry generated equations
(`x =`, fractions, exponents, `∫`, determinants; `mathgen`). Non-study scenes: a phone feed, a
group chat, a TV showing a game, a bare desk, a poster. Each is photographed and encoded twice
(`pagedraw`): as the phone's photo and as the glasses' frame.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageFont

from scripts.bench import mathgen
from scripts.bench.pagedraw import (
    INK,
    PAGE,
    PEN,
    Fonts,
    Page,
    glasses_frame,
    paper,
    phone_photo,
    photograph,
)
from scripts.bench.pagesources import TOPICS, Entry, Sources


def _entry_text(entry: Entry) -> str:
    return f"{entry.term}: {entry.text}"


def _figure(
    page: Page,
    box: tuple[int, int, int, int],
    caption: str,
    font: ImageFont.FreeTypeFont,
    rng: random.Random,
) -> None:
    x0, y0, x1, y1 = box
    draw = page.draw
    draw.rectangle(box, outline=(90, 90, 90), width=3, fill=(232, 236, 240))
    for _ in range(rng.randint(3, 7)):  # a diagram's shapes, no text
        cx, cy = rng.uniform(x0 + 60, x1 - 60), rng.uniform(y0 + 40, y1 - 90)
        r = rng.uniform(20, 70)
        draw.ellipse((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), outline=(60, 90, 120), width=3)
    page.paragraph(x0 + 15, y1 - 70, caption, font, x1 - x0 - 30)


def textbook(topic: str, src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A textbook page: a chapter heading, paragraphs, a figure box (and equations for Math)."""
    page = paper("plain", rng)
    body = fonts.get("print", rng.choice([30, 33, 36]), rng)
    entries = rng.sample(src.entries[topic], 5)
    y = page.write(
        (80, 70),
        f"{rng.randint(1, 14)}.{rng.randint(1, 9)} {entries[0].term.title()}",
        fonts.get("bold", 52, rng),
    )
    y = page.paragraph(80, y + 20, entries[0].text, body, 1040)
    if topic == "Math":
        maths = fonts.get("math", 36, rng)
        for problem, answer in (mathgen.problem(rng, unicode=True) for _ in range(2)):
            y = page.write((200, y + 10), f"{problem}    {answer}", maths)
    fig_top = int(y + 20)
    _figure(
        page,
        (80, fig_top, 620, fig_top + 420),
        f"Figure {rng.randint(1, 9)}.{rng.randint(1, 9)} {entries[1].term}",
        body,
        rng,
    )
    side: float = fig_top
    for entry in entries[1:3]:
        side = page.paragraph(660, side, _entry_text(entry), body, 460) + 10
    y = max(side, fig_top + 440)
    for entry in entries[3:]:
        y = page.paragraph(80, y + 10, _entry_text(entry), body, 1040)
    return page


def two_columns(topic: str, src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A glossary page in two columns, terms in bold (Math: worked examples in the right one)."""
    page = paper("plain", rng)
    size = rng.choice([26, 29, 32])
    body, bold = fonts.get("print", size, rng), fonts.get("bold", size, rng)
    entries = iter(rng.sample(src.entries[topic], min(16, len(src.entries[topic]))))
    for column in range(2):
        x, y = 70 + column * 560, 90.0
        if topic == "Math" and column == 1:
            maths = fonts.get("math", size + 2, rng)
            for n in range(1, 9):
                problem, answer = mathgen.problem(rng, unicode=True)
                y = page.write((x, y), f"{n}. {problem}", maths)
                y = page.write((x + 40, y), answer, maths) + 12
            continue
        for entry in entries:
            if y >= PAGE[1] - 200:
                break
            y = page.write((x, y), entry.term, bold)
            y = page.paragraph(x, y, entry.text, body, 500) + 14
    return page


def worksheet(topic: str, src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """Numbered exercises with handwritten answers, and a name line."""
    page = paper("plain", rng)
    body, hand = fonts.get("print", 30, rng), fonts.get("hand", rng.choice([34, 38]), rng)
    pen = rng.choice(PEN)
    page.write((80, 60), "Name: ____________   Date: ________", body)
    page.write((260, 52), rng.choice(["Sam K.", "J. Ortiz", "Priya", "Tom B.", "Lea"]), hand, pen)
    y = page.write((80, 140), f"Exercise {rng.randint(1, 12)}", fonts.get("bold", 44, rng)) + 20
    for n in range(1, 7):
        if topic == "Math":
            problem, answer = mathgen.problem(rng, unicode=False)
            y = page.write((80, y), f"{n}. {problem}", body)
            y = page.write((140, y), answer, hand, pen) + 24
            continue
        pool = src.vocabulary if topic == "English" and n % 2 else src.entries[topic]
        entry = rng.choice(pool)
        y = page.write((80, y), f"{n}. {entry.term}", body)
        y = page.paragraph(140, y, entry.text, hand, 980, fill=pen) + 24
    return page


def notes(topic: str, src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """Handwritten notes on lined paper (Math on grid paper, with equations)."""
    grid = topic == "Math" and rng.random() < 0.7
    page = paper("grid" if grid else "lined", rng)
    hand = fonts.get("hand", rng.choice([36, 40, 44]), rng)
    pen = rng.choice(PEN)
    entries = rng.sample(src.entries[topic], 4)
    y = page.write((160, 110), entries[0].term, fonts.get("hand", 56, rng), pen) + 10
    for n, entry in enumerate(entries):
        if topic == "Math":
            for _ in range(2):
                problem, answer = mathgen.problem(rng, unicode=False)
                y = page.write((160, y), problem, hand, pen)
                y = page.write((220, y), answer, hand, pen)
        y = page.paragraph(160, y, ("- " if n else "") + entry.text, hand, 960, fill=pen) + 10
    return page


def essay_plan(topic: str, src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """English: a handwritten essay plan around a literature quotation."""
    page = paper("lined", rng)
    hand, pen = fonts.get("hand", rng.choice([36, 40]), rng), rng.choice(PEN)
    y = page.write((160, 110), "Essay plan", fonts.get("hand", 56, rng), pen) + 10
    for line in rng.choice(src.quotes).splitlines():
        y = page.paragraph(180, y, line, hand, 940, fill=pen)
    for heading, entry in zip(
        ("Intro", "Point 1", "Point 2", "Conclusion"),
        rng.sample(src.entries[topic], 4),
        strict=True,
    ):
        y = page.paragraph(
            160, y + 12, f"{heading}: {entry.term} - {entry.text}", hand, 960, fill=pen
        )
    return page


LAYOUTS: dict[str, Callable[[str, Sources, random.Random, Fonts], Page]] = {
    "textbook": textbook,
    "two_columns": two_columns,
    "worksheet": worksheet,
    "notes": notes,
}
ENGLISH_EXTRA = {"essay_plan": essay_plan}


def _chat_lines(src: Sources, rng: random.Random, n: int) -> list[str]:
    return [line for item in rng.sample(src.chatter, n) for line in item.splitlines()]


def feed(src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A phone's social feed: handles, posts, counts."""
    page = Page(Image.new("RGB", PAGE, (18, 18, 22) if rng.random() < 0.5 else (245, 245, 248)))
    dark = page.image.getpixel((0, 0)) == (18, 18, 22)
    ink = (235, 235, 235) if dark else INK
    body, small = fonts.get("print", 34, rng), fonts.get("print", 26, rng)
    y = 60.0
    for item in rng.sample(src.chatter, 3):
        handle = "@" + rng.choice(["milo", "nat_22", "the.kit", "rosie", "bex", "omar.j"])
        y = page.write((60, y), f"{handle} · {rng.randint(1, 23)}h", small, ink)
        y = page.paragraph(60, y, item.replace("\n", " "), body, 1080, fill=ink)
        counts = f"{rng.randint(1, 99)}.{rng.randint(0, 9)}K   {rng.randint(2, 900)}   Share"
        y = page.write((60, y + 6), counts, small, ink) + 50
    return page


def chat(src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A group chat: bubbles with names and times."""
    page = Page(Image.new("RGB", PAGE, (236, 229, 221)))
    body, small = fonts.get("print", 32, rng), fonts.get("print", 24, rng)
    names = rng.sample(["Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus"], 3)
    y = page.write((60, 40), f"{names[0]}, {names[1]} and {rng.randint(2, 9)} others", body) + 20
    for line in _chat_lines(src, rng, 4)[:9]:
        left = rng.random() < 0.6
        x = 60 if left else 380
        page.draw.rounded_rectangle(
            (x - 20, y - 10, x + 760, y + 80), 24, fill=(255, 255, 255) if left else (220, 248, 198)
        )
        page.write((x, y), line[:46], body)
        y = (
            page.write(
                (x + 620, y + 44),
                f"{rng.randint(10, 23)}:{rng.randint(0, 59):02d}",
                small,
                (110, 110, 110),
            )
            + 20
        )
        if y > PAGE[1] - 150:
            break
    return page


def tv_game(src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A TV across the room showing a game, its score bug in a corner."""
    page = Page(Image.new("RGB", (PAGE[1], PAGE[0]), (50, 42, 38)))
    draw = page.draw
    draw.rectangle((180, 160, 1420, 900), fill=(10, 10, 10))
    draw.rectangle((200, 180, 1400, 880), fill=(40, 120 + rng.randint(0, 40), 50))
    for x in range(260, 1400, 160):
        draw.line((x, 180, x - 60, 880), fill=(70, 160, 80), width=3)
    teams = rng.sample(["ARS", "CHE", "LIV", "MCI", "TOT", "NEW", "BAR", "RMA", "JUV", "PSG"], 2)
    score = f"{teams[0]} {rng.randint(0, 4)} - {rng.randint(0, 4)} {teams[1]}"
    bold = fonts.get("bold", 40, rng)
    draw.rectangle((220, 200, 780, 260), fill=(20, 20, 60))
    page.write(
        (235, 205), f"{score}  {rng.randint(1, 90)}:{rng.randint(0, 59):02d}", bold, (255, 255, 255)
    )
    page.write(
        (230, 820),
        rng.choice(src.chatter).splitlines()[0][:60],
        fonts.get("print", 30, rng),
        (255, 255, 255),
    )
    return page


def bare_desk(src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A desk seen from above: wood, a mug, a pen, a closed notebook; no text."""
    wood = (rng.randint(120, 170), rng.randint(80, 110), rng.randint(40, 70))
    page = Page(Image.new("RGB", (PAGE[1], PAGE[0]), wood))
    draw = page.draw
    for y in range(0, PAGE[0], 18):
        shade = rng.randint(-14, 14)
        draw.line(
            (0, y, PAGE[1], y + rng.randint(-20, 20)),
            fill=tuple(max(0, c + shade) for c in wood),
            width=9,
        )
    draw.ellipse((1050, 150, 1350, 450), fill=(230, 230, 225), outline=(150, 150, 150), width=8)
    draw.rectangle((250, 300, 850, 1050), fill=(rng.randint(20, 200), 60, 90))
    draw.line((950, 800, 1300, 650), fill=(20, 20, 120), width=14)
    return page


def poster(src: Sources, rng: random.Random, fonts: Fonts) -> Page:
    """A poster on a wall: a big line, a date and a place."""
    colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    page = Page(Image.new("RGB", PAGE, colour))
    ink = (255, 255, 255) if sum(colour) < 380 else (10, 10, 10)
    words = rng.choice(src.chatter).replace("\n", " ").split()[:8]
    page.paragraph(80, 200, " ".join(words).upper(), fonts.get("bold", 84, rng), 1040, fill=ink)
    page.write(
        (80, 1300),
        f"Friday {rng.randint(1, 28)} · {rng.randint(6, 10)} pm · Main Hall",
        fonts.get("print", 48, rng),
        ink,
    )
    return page


SCENES: dict[str, Callable[[Sources, random.Random, Fonts], Page]] = {
    "feed": feed,
    "chat": chat,
    "tv_game": tv_game,
    "bare_desk": bare_desk,
    "poster": poster,
}


@dataclass(frozen=True)
class Item:
    """One labelled image of the set: label is a topic or "none"."""

    split: str
    label: str
    kind: str
    text: str
    phone: bytes
    glasses: bytes


def item_rng(seed: int, *parts: object) -> random.Random:
    """A generator of its own per item, so an item does not change when the set grows."""
    key = ":".join(map(str, (seed, *parts))).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))  # noqa: S311


def make_item(split: str, label: str, n: int, src: Sources, fonts: Fonts, seed: int) -> Item:
    """The `n`-th image of `label` in `split`; layouts and scenes taken in turn."""
    rng = item_rng(seed, split, label, n)
    if label == "none":
        kinds: Sequence[str] = list(SCENES)
        kind = kinds[n % len(kinds)]
        page = SCENES[kind](src, rng, fonts)
    else:
        layouts = {**LAYOUTS, **(ENGLISH_EXTRA if label == "English" else {})}
        kind = list(layouts)[n % len(layouts)]
        page = layouts[kind](label, src, rng, fonts)
    photo = photograph(page.image, rng)
    return Item(
        split, label, kind, "\n".join(page.lines), phone_photo(photo), glasses_frame(photo, rng)
    )


def dataset(
    splits: dict[str, Sources], per_topic: int, scenes: int, fonts: Fonts, seed: int
) -> list[Item]:
    """`per_topic` pages of each topic and `scenes` other scenes, in each split."""
    return [
        make_item(split, label, n, src, fonts, seed)
        for split, src in splits.items()
        for label, count in [*((t, per_topic) for t in TOPICS), ("none", scenes)]
        for n in range(count)
    ]
