"""Image checks and preparation for the model: sniffing, downscaling, orientation, guards."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile

from edge.frames.images import (
    BadImage,
    PreparedFrame,
    TooManyPixels,
    UnsupportedImageType,
    draft_factor,
    prepare,
    sniff,
)
from tests.fakes import images

BOUND = 768
CAP = 50_000_000


def prepared(data: bytes, fmt: str = "jpeg", **limits: int) -> PreparedFrame:
    """Prepare with the default limits unless told otherwise."""
    args = {"short_side": BOUND, "max_pixels": CAP, "quality": 80, **limits}
    assert fmt in ("jpeg", "png", "webp")
    return prepare(data, fmt, **args)  # type: ignore[arg-type]


def decoded(frame: PreparedFrame) -> Image.Image:
    """Open the JPEG the model would receive."""
    image = Image.open(io.BytesIO(frame.jpeg))
    assert image.format == "JPEG"
    return image


# --- sniff -----------------------------------------------------------------------------------


def test_sniff_jpeg() -> None:
    """JPEG bytes are jpeg."""
    assert sniff(images.jpeg(64, 48)) == "jpeg"


def test_sniff_png() -> None:
    """PNG bytes are png."""
    assert sniff(images.png(64, 48)) == "png"


def test_sniff_webp() -> None:
    """WebP bytes are webp."""
    assert sniff(images.webp(64, 48)) == "webp"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",
        b"hello world, not an image",
        b"GIF89a" + b"\x00" * 20,
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"<?xml version='1.0'?><svg/>",
    ],
    ids=["empty", "short-jpeg-prefix", "text", "gif", "riff-wave", "svg"],
)
def test_sniff_refuses_anything_else(data: bytes) -> None:
    """Bytes that are not JPEG, PNG or WebP raise UnsupportedImageType."""
    with pytest.raises(UnsupportedImageType):
        sniff(data)


# --- prepare: size ---------------------------------------------------------------------------


def test_large_jpeg_is_drafted_to_the_bound() -> None:
    """A 4000x3000 JPEG comes out at 1/4 scale, 1000x750, by JPEG draft."""
    big = images.scene(400, 300).resize((4000, 3000), Image.Resampling.BILINEAR)
    frame = prepared(images.encode(big, "JPEG", quality=85))
    assert (frame.width, frame.height) == (1000, 750)
    assert decoded(frame).size == (1000, 750)


def test_png_is_resized_to_the_bound() -> None:
    """A 2000x1000 PNG comes out with a short side of exactly 768."""
    frame = prepared(images.png(2000, 1000), "png")
    assert (frame.width, frame.height) == (1536, 768)
    assert decoded(frame).size == (1536, 768)


def test_webp_is_resized_to_the_bound() -> None:
    """A 1600x1200 WebP comes out at 1024x768."""
    frame = prepared(images.webp(1600, 1200), "webp")
    assert decoded(frame).size == (1024, 768)


def test_bound_is_configurable() -> None:
    """short_side=256 bounds a 1280x960 PNG to 341x256."""
    frame = prepared(images.png(1280, 960), "png", short_side=256)
    assert decoded(frame).size == (341, 256)


def test_small_image_is_not_upscaled() -> None:
    """A 600x400 JPEG keeps its size."""
    frame = prepared(images.jpeg(600, 400))
    assert decoded(frame).size == (600, 400)


def test_portrait_bound_applies_to_the_short_side() -> None:
    """A 1000x2000 PNG is bounded by its width: 768x1536."""
    frame = prepared(images.png(1000, 2000), "png")
    assert decoded(frame).size == (768, 1536)


def test_transparent_png_becomes_rgb_jpeg() -> None:
    """An RGBA PNG is sent as an RGB JPEG."""
    rgba = images.scene(320, 240).convert("RGBA")
    frame = prepared(images.encode(rgba, "PNG"), "png")
    assert decoded(frame).mode == "RGB"


# --- prepare: orientation and metadata -------------------------------------------------------


def test_exif_orientation_six_turns_the_frame_upright() -> None:
    """An 800x600 JPEG tagged orientation 6 (rotate 90) comes out 600x800."""
    frame = prepared(images.jpeg_with_orientation(800, 600, 6))
    assert decoded(frame).size == (600, 800)


def test_orientation_is_applied_after_the_draft() -> None:
    """A 2000x1500 JPEG tagged orientation 6 is drafted to 1000x750, then turned to 750x1000."""
    frame = prepared(images.jpeg_with_orientation(2000, 1500, 6))
    assert decoded(frame).size == (750, 1000)


def test_orientation_one_keeps_the_frame() -> None:
    """Orientation 1 (upright) leaves 800x600 as it is."""
    frame = prepared(images.jpeg_with_orientation(800, 600, 1))
    assert decoded(frame).size == (800, 600)


def test_output_carries_no_exif() -> None:
    """The frame for the model has no EXIF: no orientation, no camera model."""
    frame = prepared(images.jpeg_with_orientation(800, 600, 6))
    image = decoded(frame)
    assert image.getexif() == {}
    assert "exif" not in image.info
    assert b"StudyLens Test Camera" not in frame.jpeg


def test_output_carries_no_icc_profile() -> None:
    """An embedded colour profile is not passed on."""
    source = images.encode(images.scene(320, 240), "JPEG", icc_profile=b"\x00" * 128)
    assert "icc_profile" in Image.open(io.BytesIO(source)).info
    assert "icc_profile" not in decoded(prepared(source)).info


# --- prepare: guards -------------------------------------------------------------------------


def test_png_bomb_is_too_many_pixels() -> None:
    """A PNG claiming 30000x30000 pixels raises TooManyPixels."""
    with pytest.raises(TooManyPixels):
        prepared(images.png_bomb(), "png")


def test_pixel_cap_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the cap, no pixel is decoded: ImageFile.load is never called."""
    loads: list[object] = []
    original = ImageFile.ImageFile.load

    def counting(self: ImageFile.ImageFile) -> object:
        loads.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    with pytest.raises(TooManyPixels):
        prepared(images.jpeg(200, 100), max_pixels=19_999)
    assert loads == []


def test_image_at_the_pixel_cap_is_accepted() -> None:
    """Exactly max_pixels pixels is still accepted."""
    frame = prepared(images.jpeg(200, 100), max_pixels=20_000)
    assert decoded(frame).size == (200, 100)


def test_truncated_jpeg_is_bad_image() -> None:
    """The first half of a JPEG raises BadImage."""
    data = images.jpeg()
    with pytest.raises(BadImage):
        prepared(data[: len(data) // 2])


def test_jpeg_magic_with_garbage_is_bad_image() -> None:
    """JPEG magic bytes followed by garbage raise BadImage."""
    with pytest.raises(BadImage):
        prepared(b"\xff\xd8\xff" + b"garbage" * 50)


def test_png_magic_with_garbage_is_bad_image() -> None:
    """PNG magic bytes followed by garbage raise BadImage."""
    with pytest.raises(BadImage):
        prepared(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "png")


def test_format_is_the_sniffed_one_only() -> None:
    """PNG bytes prepared as jpeg are refused, not decoded by another plugin."""
    with pytest.raises(BadImage):
        prepared(images.png(64, 48), "jpeg")


# --- draft_factor ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("short", "bound", "factor"),
    [
        (3000, 768, 4),
        (960, 768, 2),
        (720, 768, 1),
        (768, 768, 1),
        (769, 768, 2),
        (1536, 768, 2),
        (1537, 768, 4),
        (6144, 768, 8),
        (100_000, 768, 8),
    ],
)
def test_draft_factor(short: int, bound: int, factor: int) -> None:
    """The DCT reduction is the smallest of 1, 2, 4, 8 bringing short to the bound, at most 8."""
    assert draft_factor(short, bound) == factor
