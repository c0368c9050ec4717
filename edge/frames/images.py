"""Image checks and preparation for the model (Pillow; CPU-bound, run off the event loop)."""

from __future__ import annotations

import io
import re
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


#: The most bytes a frame may have to go to the model as it is; a bigger one is re-encoded
#: (the per-frame budget of issue 16; a 720x1280 phone frame is typically 60-130 KB).
PASS_MAX_BYTES = 150_000


@dataclass(frozen=True)
class PreparedFrame:
    """The frame as the model sees it, and its perceptual hash."""

    jpeg: bytes
    width: int
    height: int
    dhash: int
    #: The uploaded JPEG itself with its metadata stripped, not a decoded and re-encoded one.
    passed: bool = False


def prepare(
    data: bytes,
    fmt: ImageFormat,
    *,
    short_side: int,
    max_pixels: int,
    quality: int,
    pass_max_bytes: int = PASS_MAX_BYTES,
) -> PreparedFrame:
    """The frame for the model: the JPEG itself if it fits, else decoded, upright and shrunk.

    A JPEG within `short_side`, upright (EXIF orientation 1 or none) and of at most
    `pass_max_bytes` once stripped goes as its own bytes without metadata (`strip_metadata`):
    no decode at full size and no second lossy encoding. Anything else is decoded (at DCT
    draft scale), turned upright by EXIF, shrunk to `short_side` and re-encoded as JPEG.
    """
    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]]) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise TooManyPixels(
                    f"The image is {width}x{height} pixels; at most {max_pixels:,} are accepted."
                )
            if fmt == "jpeg" and min(width, height) <= short_side:
                passed = _pass(opened, data, pass_max_bytes)
                if passed is not None:
                    return passed
            return _reencode(opened, fmt, short_side, quality, pass_max_bytes)
    except UnidentifiedImageError as exc:
        # Pillow's own message names its file object (`<_io.BytesIO object at 0x...>`): ours.
        raise BadImage("The image cannot be read: its bytes are no known image format.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # OSError also covers JPEG's 65,500-pixel side limit on absurdly long images.
        raise BadImage(
            "The image cannot be read as a camera frame: it is truncated, corrupt or too long."
        ) from exc


def _pass(opened: Image.Image, data: bytes, max_bytes: int) -> PreparedFrame | None:
    """The JPEG as it came, stripped, if it may go to the model so; else None (re-encode it).

    An EXIF orientation other than 1 is not turned losslessly (that needs jpegtran's DCT
    transforms, which Pillow does not expose, and a new native dependency): such frames take
    the re-encode path, measured at 5.1 instead of 1.3 ms for a 141 KB 720x1280 frame. The
    glasses' frames come upright (orientation 1 or none), so the rare turned one pays that.
    """
    if opened.mode not in ("RGB", "L") or opened.getexif().get(_ORIENTATION, 1) != 1:
        return None  # CMYK is converted for the model; a turned frame is turned by decoding
    try:
        stripped = strip_metadata(data)
    except BadImage:
        return None  # a layout our walk refuses but Pillow may still read: let the decode judge
    if stripped.frame not in _PASSED_FRAMES or len(stripped.jpeg) > max_bytes:
        return None
    # The hash comes from the bytes the model gets, decoded at 1/8 scale and luma only: the
    # entropy decoding still reads every byte (a truncated frame fails here), the IDCT and
    # colour work almost vanish (measured for a 127 KB 720x1280 frame: 1.1 ms, against 2.0
    # for a full decode and 4.1 for the whole re-encode path).
    with Image.open(io.BytesIO(stripped.jpeg), formats=["JPEG"]) as small:
        scale = hash_reduction(min(small.size))
        small.draft("L", (small.width // scale, small.height // scale))
        small.load()
        hashed = _difference_hash(small)
    return PreparedFrame(
        jpeg=stripped.jpeg, width=opened.width, height=opened.height, dhash=hashed, passed=True
    )


def _reencode(
    opened: Image.Image, fmt: ImageFormat, short_side: int, quality: int, max_bytes: int
) -> PreparedFrame:
    """Decode at draft scale, upright by EXIF, shrink to `short_side`, re-encode within budget."""
    width, height = opened.size
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
    hashed = dhash(image)
    jpeg, (width, height) = _encode_within(image, quality, max_bytes)
    return PreparedFrame(jpeg=jpeg, width=width, height=height, dhash=hashed)


#: Qualities tried in turn, after the configured one, for a frame whose JPEG is over budget.
_FALLBACK_QUALITIES = (60, 45)


def _encode_within(
    image: Image.Image, quality: int, max_bytes: int
) -> tuple[bytes, tuple[int, int]]:
    """The image as JPEG of at most `max_bytes`, and its size: lower quality, then fewer pixels.

    A grainy frame (sensor noise in low light) can stay over the budget at the configured
    quality even at the model's size; the model reads text as well at 60 or 45.
    """
    encoded = b""
    for step in (quality, *(q for q in _FALLBACK_QUALITIES if q < quality)):
        encoded = _jpeg(image, step)
        if len(encoded) <= max_bytes:
            return encoded, image.size
    while len(encoded) > max_bytes and min(image.size) > _HASH_MIN_SIDE:
        # Bytes grow with pixels: shrink by the square root of the excess, with a margin.
        factor = 0.9 * (max_bytes / len(encoded)) ** 0.5
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        encoded = _jpeg(image, _FALLBACK_QUALITIES[-1])
    return encoded, image.size


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # No exif= or icc_profile= argument: the re-encoded frame carries no metadata.
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


#: The smallest short side a frame is reduced to before hashing.
_HASH_MIN_SIDE = 32


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


def hash_reduction(short: int) -> int:
    """The box reduction (1, 2, 4 or 8) of an image before it is hashed.

    A power of two at most 8, so that a JPEG decoded at that DCT scale (an 8x8 block's mean at
    1/8) gives the hash the same coarse picture as the full decode reduced by it: measured over
    60 frames each of 720x1280, 504x896, 360x640, 1280x720 and 600x400, the two hashes differ
    in at most 1 bit, 0 for most (the old reduction by min side // 64: up to 4 bits at 720x1280).
    The reduced short side stays at 32 px or more, 4 px or more for each of the hash's 8 rows.
    """
    factor = 8
    while factor > 1 and short // factor < _HASH_MIN_SIDE:
        factor //= 2
    return factor


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: brightness gradients of a 9x8 grey thumbnail."""
    # A cheap box reduction first: the hash only needs a coarse picture (halves the cost).
    return _difference_hash(image.reduce(hash_reduction(min(image.size))))


def _difference_hash(coarse: Image.Image) -> int:
    """The hash of an already reduced image (or one decoded at reduced scale)."""
    small = np.asarray(coarse.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """How many bits two hashes differ in."""
    return (a ^ b).bit_count()


# --- lossless metadata stripping -------------------------------------------------------------

_ORIENTATION = 0x0112
#: Frame types passed to the model as they are: baseline, extended sequential and progressive
#: Huffman DCT, what phones write. Arithmetic, lossless and hierarchical JPEGs are re-encoded.
_PASSED_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
#: SOF0..SOF15 without DHT (C4), JPG (C8) and DAC (CC).
_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SOS, _EOI, _APP0, _APP14, _APP15, _COM = 0xDA, 0xD9, 0xE0, 0xEE, 0xEF, 0xFE
_JFIF, _ADOBE = b"JFIF\x00", b"Adobe"
#: Markers without a length that may not stand between segments: SOI, TEM, RST0..7, and 0x00.
_STANDALONE = frozenset({0xD8, 0x01, 0x00, *range(0xD0, 0xD8)})
#: Where entropy-coded data ends: a 0xFF that is neither a stuffed zero nor a restart marker.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
_FILL = re.compile(rb"\xff+")
#: A phone's JPEG has about 10 segments, a progressive one 30-odd; a file of a million tiny
#: ones would only burn the frame thread's CPU in this loop (libjpeg then judges it in C).
_MAX_SEGMENTS = 1000


@dataclass(frozen=True)
class StrippedJpeg:
    """A JPEG without its metadata segments, and the frame type (SOF marker) it declares."""

    jpeg: bytes
    frame: int


def strip_metadata(data: bytes) -> StrippedJpeg:
    """Drop a JPEG's metadata segments, copying every other byte as it is (no re-encoding).

    Dropped: APP1..APP15 (EXIF with GPS and maker notes, XMP, ICC profiles, MPF, vendors'
    segments) but Adobe's APP14, COM, a non-JFIF APP0 (JFXX thumbnails), fill bytes and
    anything after EOI (appended previews, motion-photo video). Kept: JFIF's APP0, Adobe's
    APP14 (its colour transform flag tells decoders whether the pixels are YCbCr or RGB), DQT,
    SOF, DHT, DAC, DRI, SOS and the entropy-coded data. The ICC profile goes too: the model
    reads pixels as sRGB whatever a profile says, phone frames are sRGB or close to it (Display
    P3), and the re-encode path has always dropped it. Raises BadImage when the segments do not
    parse (truncated, a length past the end, a marker out of place, no image data).
    """
    size = len(data)
    if data[:2] != b"\xff\xd8":
        raise BadImage("The image is not a JPEG: it does not start with SOI.")
    kept = [b"\xff\xd8"]
    frame: int | None = None
    scanned = False
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        fill = _FILL.match(data, pos)  # a marker, after any 0xFF fill bytes before it
        if fill is None:
            raise BadImage("The JPEG is truncated or corrupt: a marker was expected.")
        pos = fill.end()
        if pos >= size:
            raise BadImage("The JPEG is truncated: it ends inside a marker.")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            if frame is None or not scanned:
                raise BadImage("The JPEG has no image data before its end marker.")
            kept.append(b"\xff\xd9")
            return StrippedJpeg(b"".join(kept), frame)
        if marker in _STANDALONE:
            raise BadImage("The JPEG is corrupt: a marker is out of place.")
        if pos + 2 > size:
            raise BadImage("The JPEG is truncated: it ends inside a segment's length.")
        # A length below 2 needs no check of its own: it ends inside the length field, on a
        # byte that is not 0xFF, and the next turn refuses it.
        end = pos + int.from_bytes(data[pos : pos + 2], "big")
        if end > size:
            raise BadImage("The JPEG is truncated: a segment runs past its end.")
        if marker in _FRAME_MARKERS and frame is None:
            frame = marker
        if _keeps(marker, data[pos + 2 : pos + 8]):  # enough for the JFIF and Adobe signatures
            kept.append(b"\xff" + data[pos - 1 : end])
        pos = end
        if marker == _SOS:
            if frame is None:
                raise BadImage("The JPEG is corrupt: image data before its frame header.")
            scan_end = _SCAN_END.search(data, pos)
            if scan_end is None:
                raise BadImage("The JPEG is truncated: its image data has no end marker.")
            kept.append(data[pos : scan_end.start()])
            pos = scan_end.start()
            scanned = True
    raise BadImage(f"The JPEG has more than {_MAX_SEGMENTS} segments: no camera writes that.")


def _keeps(marker: int, head: bytes) -> bool:
    """Whether a segment is needed to decode the image (`head`: its first payload bytes)."""
    if marker == _APP0:
        return head.startswith(_JFIF)
    if marker == _APP14:
        return head.startswith(_ADOBE)
    return not (_APP0 < marker <= _APP15 or marker == _COM)
