"""Test images made on the spot: photo-like frames, distinct scenes, and hostile files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def scene(width: int, height: int, seed: int = 0) -> Image.Image:
    """A frame whose coarse layout depends on `seed`, so different seeds hash differently."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    coarse = Image.fromarray(blocks).resize((width, height), Image.Resampling.BILINEAR)
    grain = rng.normal(0, 6, (height, width, 3))
    pixels = np.clip(np.asarray(coarse, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """Encode an image to bytes."""
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def jpeg(width: int = 1280, height: int = 960, seed: int = 0, quality: int = 85) -> bytes:
    """A photo-like JPEG frame."""
    return encode(scene(width, height, seed), "JPEG", quality=quality)


def jpeg_with_orientation(width: int, height: int, orientation: int) -> bytes:
    """A JPEG whose EXIF says how to turn it upright, with a camera model tag to strip."""
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x0110] = "StudyLens Test Camera"  # Model
    return encode(scene(width, height), "JPEG", exif=exif.tobytes())


def png(width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    """A PNG frame."""
    return encode(scene(width, height, seed), "PNG")


def webp(width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    """A WebP frame."""
    return encode(scene(width, height, seed), "WEBP", quality=80)


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG that claims to be huge: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )
