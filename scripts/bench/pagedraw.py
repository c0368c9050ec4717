"""Drawing for the evaluation pages: fonts, a canvas that records its text, paper, the camera.

A page is drawn on a `Page`, which keeps every line it draws (so a test can check what a
labelled image shows), then "photographed" (on a desk, perspective, rotation, blur, uneven light,
a tint, sometimes a hand) and encoded as the phone sends it (JPEG quality 70) or as the glasses
do (720 px short side, a little motion blur, JPEG quality 70).

Fonts come from Debian packages (`FONT_INSTALL`); without them Pillow's own font is used, which
only the unit tests do.
"""

from __future__ import annotations

import io
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_INSTALL = (
    "apt-get install fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf "
    "fonts-dkg-handwriting fonts-humor-sans fonts-comic-neue fonts-breip fonts-femkeklaver"
)
_T = "/usr/share/fonts/truetype"
_O = "/usr/share/fonts/opentype"
FONT_FILES = {
    "print": [
        f"{_T}/liberation2/LiberationSerif-Regular.ttf",
        f"{_T}/freefont/FreeSerif.ttf",
        f"{_T}/liberation2/LiberationSans-Regular.ttf",
        f"{_T}/freefont/FreeSans.ttf",
        f"{_T}/dejavu/DejaVuSerif.ttf",
    ],
    "bold": [
        f"{_T}/liberation2/LiberationSerif-Bold.ttf",
        f"{_T}/liberation2/LiberationSans-Bold.ttf",
        f"{_T}/freefont/FreeSansBold.ttf",
    ],
    # Fonts with the math signs (∫, ², ·, the minus sign) for printed equations.
    "math": [f"{_T}/dejavu/DejaVuSans.ttf", f"{_T}/freefont/FreeSerif.ttf"],
    "hand": [
        f"{_T}/fifthhorseman/dkg.ttf",
        f"{_T}/humor-sans/Humor-Sans.ttf",
        f"{_O}/comic-neue/ComicNeue-Regular.otf",
        f"{_T}/breip/Breip.ttf",
        f"{_T}/femkeklaver/femkeklaver.ttf",
    ],
}
PAGE = (1200, 1600)
INK = (25, 25, 30)
PEN = ((20, 40, 140), (30, 30, 35), (120, 20, 20))


class Fonts:
    """Font files by kind; Pillow's built-in font when `files` is empty (unit tests)."""

    def __init__(self, files: dict[str, list[str]] | None = None) -> None:
        self._files = files or {}

    @classmethod
    def installed(cls) -> Fonts:
        """The Debian fonts; `FileNotFoundError` with the install line if one is missing."""
        missing = [p for paths in FONT_FILES.values() for p in paths if not Path(p).exists()]
        if missing:
            raise FileNotFoundError(f"{missing[0]} is missing; install the fonts: {FONT_INSTALL}")
        return cls(FONT_FILES)

    def get(self, kind: str, size: int, rng: random.Random) -> ImageFont.FreeTypeFont:
        """A font of `kind` (print, bold, math, hand) at `size` px, chosen by `rng`."""
        paths = self._files.get(kind)
        if not paths:
            return ImageFont.load_default(size=size)  # type: ignore[return-value]
        return ImageFont.truetype(rng.choice(paths), size)


@dataclass
class Page:
    """A canvas and the text drawn on it, in drawing order."""

    image: Image.Image
    lines: list[str] = field(default_factory=list)

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        """A drawing context over the canvas."""
        return ImageDraw.Draw(self.image)

    def write(
        self,
        xy: tuple[float, float],
        text: str,
        font: ImageFont.FreeTypeFont,
        fill: tuple[int, int, int] = INK,
    ) -> float:
        """Draw one line; return the y below it."""
        self.draw.text(xy, text, fill=fill, font=font)
        self.lines.append(text)
        return xy[1] + font.size * 1.45

    def paragraph(
        self, x: float, y: float, text: str, font: ImageFont.FreeTypeFont, width: int, **kw: object
    ) -> float:
        """Draw `text` wrapped to about `width` px; return the y below it."""
        chars = max(12, int(width / (font.size * 0.5)))
        for line in textwrap.wrap(text, chars):
            if y > PAGE[1] - 80:
                break
            y = self.write((x, y), line, font, **kw)  # type: ignore[arg-type]
        return y


def paper(kind: str, rng: random.Random) -> Page:
    """A blank sheet: plain, lined (with a margin) or grid paper, in a slightly varied tone."""
    tone = rng.randint(238, 252)
    page = Page(Image.new("RGB", PAGE, (tone, tone, tone - rng.randint(0, 12))))
    draw = page.draw
    if kind == "lined":
        for y in range(180, PAGE[1], 56):
            draw.line((0, y, PAGE[0], y), fill=(160, 185, 225), width=2)
        draw.line((130, 0, 130, PAGE[1]), fill=(225, 120, 120), width=2)
    elif kind == "grid":
        for v in range(0, max(PAGE), 40):
            draw.line((v, 0, v, PAGE[1]), fill=(190, 205, 225), width=1)
            draw.line((0, v, PAGE[0], v), fill=(190, 205, 225), width=1)
    return page


def tilt(image: Image.Image, rng: random.Random, *, corner: float, degrees: float) -> Image.Image:
    """Seen at an angle: each corner moved in by up to `corner` of the side, then rotated."""
    w, h = image.size
    d = corner
    quad = [
        rng.uniform(0, d) * w,
        rng.uniform(0, d) * h,
        rng.uniform(0, d) * w,
        h - rng.uniform(0, d) * h,
        w - rng.uniform(0, d) * w,
        h - rng.uniform(0, d) * h,
        w - rng.uniform(0, d) * w,
        rng.uniform(0, d) * h,
    ]
    image = image.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BILINEAR)
    return image.rotate(
        rng.uniform(-degrees, degrees), resample=Image.Resampling.BILINEAR, fillcolor=(90, 80, 70)
    )


def photograph(image: Image.Image, rng: random.Random) -> Image.Image:
    """On a desk, in perspective, rotated, blurred, lit unevenly and tinted."""
    w, h = image.size
    canvas = Image.new("RGB", (int(w * 1.1), int(h * 1.1)), (rng.randint(60, 140), 85, 65))
    canvas.paste(image, (int(w * 0.05), int(h * 0.05)))
    w, h = canvas.size
    image = tilt(canvas, rng, corner=0.07, degrees=5)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    light = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(0, 360))
    shade = Image.new("RGB", (w, h), (0, 0, 0))
    image = Image.composite(image, Image.blend(image, shade, rng.uniform(0.15, 0.45)), light)
    tint = rng.choice([(1.0, 1.0, 1.0), (1.0, 0.92, 0.78), (0.9, 0.95, 1.05), (0.7, 0.7, 0.7)])
    image = Image.merge(
        "RGB",
        [
            band.point(lambda v, k=k: min(255, int(v * k)))
            for band, k in zip(image.split(), tint, strict=True)
        ],
    )
    if rng.random() < 0.3:  # a hand or a pen over part of the page
        draw = ImageDraw.Draw(image)
        x, y = rng.uniform(0.6, 0.9) * w, rng.uniform(0.6, 0.9) * h
        draw.ellipse((x, y, x + 0.22 * w, y + 0.3 * h), fill=(205, 160, 130))
    return image


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def phone_photo(image: Image.Image) -> bytes:
    """The phone's upload: the photo at full size, JPEG quality 70."""
    return _jpeg(image, 70)


def glasses_frame(image: Image.Image, rng: random.Random) -> bytes:
    """The glasses' frame: 720 px short side, a little motion blur, JPEG quality 70."""
    scale = 720 / min(image.size)
    small = image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
    )
    kernel = [0.0] * 9
    for i in rng.choice([(3, 4, 5), (0, 4, 8), (1, 4, 7), (2, 4, 6)]):  # a 3-px streak
        kernel[i] = 1.0
    return _jpeg(small.filter(ImageFilter.Kernel((3, 3), kernel, scale=3)), 70)
