"""Image checks and preparation for the model (Pillow; CPU-bound, run off the event loop)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edge.errors import EdgeError

ImageFormat = Literal["jpeg", "png", "webp"]

# Our own, lower pixel cap is checked right after the header is read and before any pixel is
# decoded; Pillow's global check would only warn, and from inside a worker thread.
Image.MAX_IMAGE_PIXELS = None

EXTENSIONS: dict[ImageFormat, str] = {"jpeg": "jpg", "png": "png", "webp": "webp"}
_PIL_FORMATS: dict[ImageFormat, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


class UnsupportedImageType(EdgeError):
    """The bytes are not JPEG, PNG or WebP, whatever the upload claimed."""

    http_status = 415
    code = "unsupported_image_type"


class BadImage(EdgeError):
    """The bytes look like an image but do not decode."""

    http_status = 400
    code = "bad_image"


class TooManyPixels(EdgeError):
    """The image is larger in pixels than allowed (a decompression-bomb guard)."""

    http_status = 400
    code = "image_too_many_pixels"


def sniff(data: bytes) -> ImageFormat:
    """Tell the format from the content's magic bytes, never from a name or declared type."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise UnsupportedImageType("The file is not a JPEG, PNG or WebP image.")


@dataclass(frozen=True)
class PreparedFrame:
    """The frame as the model sees it, and its perceptual hash."""

    jpeg: bytes
    width: int
    height: int
    dhash: int


def prepare(
    data: bytes, fmt: ImageFormat, *, short_side: int, max_pixels: int, quality: int
) -> PreparedFrame:
    """Decode, upright by EXIF, shrink to `short_side`, strip metadata, re-encode as JPEG."""
    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]]) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise TooManyPixels(
                    f"The image is {width}x{height} pixels; at most {max_pixels:,} are accepted."
                )
            if fmt == "jpeg":
                k = draft_factor(min(width, height), short_side)
                if k > 1:
                    opened.draft("RGB", (width // k, height // k))
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)
            image: Image.Image = opened
        if image.mode != "RGB":
            image = image.convert("RGB")
        if min(image.size) > short_side:
            factor = short_side / min(image.size)
            target = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
        out = io.BytesIO()
        # No exif= or icc_profile= argument: the re-encoded frame carries no metadata.
        image.save(out, format="JPEG", quality=quality)
    except UnidentifiedImageError as exc:
        # Pillow's own message names its file object (`<_io.BytesIO object at 0x...>`): ours.
        raise BadImage("The image cannot be read: its bytes are no known image format.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # OSError also covers JPEG's 65,500-pixel side limit on absurdly long images.
        raise BadImage(
            "The image cannot be read as a camera frame: it is truncated, corrupt or too long."
        ) from exc
    return PreparedFrame(
        jpeg=out.getvalue(), width=image.width, height=image.height, dhash=dhash(image)
    )


def draft_factor(short: int, bound: int) -> int:
    """The JPEG DCT reduction (1, 2, 4 or 8) that brings `short` to at most `bound`.

    libjpeg decodes straight to 1/2, 1/4 or 1/8 size, so a 12 MP photo is never decoded
    whole and needs no separate resize (measured: a resize after a 1/2 decode costs half
    as much again as the decode). The price: a short side between bound and 2x bound lands
    between bound/2 and bound (1280x960 -> 640x480); raise `model_image_short_side` to keep more.
    """
    factor = 1
    while short / factor > bound and factor < 8:
        factor *= 2
    return factor


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: brightness gradients of a 9x8 grey thumbnail."""
    # A cheap box reduction first: the hash only needs a coarse picture (halves the cost).
    coarse = image.reduce(max(1, min(image.size) // 64))
    small = np.asarray(coarse.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """How many bits two hashes differ in."""
    return (a ^ b).bit_count()
