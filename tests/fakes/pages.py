"""Study pages rendered with Pillow, for the on-device analyser's tests and evaluation."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

#: A few lines per topic, as printed study material reads.
PAGES: dict[str, list[str]] = {
    "Biology": [
        "Mitosis: prophase, metaphase,",
        "anaphase and telophase.",
        "Each chromosome is copied first.",
    ],
    "Math": [
        "Solve the quadratic equation",
        "x^2 - 5x + 6 = 0 and find",
        "the derivative of f(x) = sin x.",
    ],
    "Chemistry": [
        "Covalent and ionic bonds",
        "Atoms share electrons in a",
        "molecule such as H2O or CO2.",
    ],
    "English": [
        "In the poem each stanza uses",
        "a metaphor and alliteration;",
        "the narrator speaks in the sonnet.",
    ],
}


def page(lines: list[str], width: int = 960, height: int = 720, size: int = 44) -> bytes:
    """A white page with black lines of text, as JPEG."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    for row, line in enumerate(lines):
        draw.text((50, 60 + row * int(size * 1.6)), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
