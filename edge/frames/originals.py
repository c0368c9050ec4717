"""Original frames kept in the data dir under their SHA-256: same bytes, same file, once."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from edge.errors import EdgeError
from edge.files import write_private
from edge.frames.images import EXTENSIONS, ImageFormat

_KEY = re.compile(r"([0-9a-f]{64})\.(jpg|png|webp)")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class ImageNotFound(EdgeError):
    """No stored image has this key."""

    http_status = 404
    code = "image_not_found"


def image_key(data: bytes, fmt: ImageFormat) -> str:
    """The content address of an image: its SHA-256 and its real format's extension."""
    return f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[fmt]}"


class OriginalStore:
    """Files under `root/ab/cd/<sha256>.<ext>`; writes are atomic and idempotent."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, key: str) -> Path:
        """The file of a key; refuses anything that is not a key (no path tricks)."""
        match = _KEY.fullmatch(key)
        if match is None:
            raise ImageNotFound(f"No image with key {key!r}.")
        digest = match.group(1)
        return self.root / digest[:2] / digest[2:4] / key

    def save(self, key: str, data: bytes) -> Path:
        """Store `data` under `key` unless it is already there (0600, in 0700 folders)."""
        path = self.path_for(key)
        if path.exists():
            return path
        write_private(path, data)
        return path

    def open_path(self, key: str) -> tuple[Path, str]:
        """The file and content type of a stored image, or ImageNotFound."""
        path = self.path_for(key)
        if not path.is_file():
            raise ImageNotFound(f"No image with key {key!r}.")
        return path, CONTENT_TYPES[key.rsplit(".", 1)[1]]
