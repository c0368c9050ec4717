"""Original frames kept under their SHA-256: keys, idempotent writes, no path tricks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edge.frames.originals import ImageNotFound, OriginalStore, image_key
from tests.fakes import images
from tests.support import AppClient, error_of

FRAME = b"\xff\xd8\xff" + b"pretend jpeg bytes"
DIGEST = hashlib.sha256(FRAME).hexdigest()
KEY = f"{DIGEST}.jpg"


def files_under(root: Path) -> list[Path]:
    """Every file below `root`, hidden ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "ext"), [("jpeg", "jpg"), ("png", "png"), ("webp", "webp")])
def test_key_is_sha256_and_extension(fmt: str, ext: str) -> None:
    """The key is the hex SHA-256 of the bytes and the format's extension."""
    assert fmt in ("jpeg", "png", "webp")
    assert image_key(FRAME, fmt) == f"{DIGEST}.{ext}"  # type: ignore[arg-type]


def test_different_bytes_have_different_keys() -> None:
    """Two frames differing in one byte get different keys."""
    assert image_key(FRAME, "jpeg") != image_key(FRAME + b"\x00", "jpeg")


# --- save ------------------------------------------------------------------------------------


def test_save_files_under_two_levels_of_digest(tmp_path: Path) -> None:
    """A frame is stored at root/ab/cd/<key> with its exact bytes."""
    path = OriginalStore(tmp_path).save(KEY, FRAME)
    assert path == tmp_path / DIGEST[:2] / DIGEST[2:4] / KEY
    assert path.read_bytes() == FRAME


def test_same_bytes_saved_twice_are_one_file(tmp_path: Path) -> None:
    """Saving the same key twice leaves exactly one file and no temporary files."""
    store = OriginalStore(tmp_path)
    first = store.save(KEY, FRAME)
    second = store.save(KEY, FRAME)
    assert first == second
    assert files_under(tmp_path) == [first]


def test_open_path_gives_file_and_content_type(tmp_path: Path) -> None:
    """A stored key opens as its file with the content type of its extension."""
    store = OriginalStore(tmp_path)
    key = image_key(images.png(32, 24), "png")
    saved = store.save(key, images.png(32, 24))
    assert store.open_path(key) == (saved, "image/png")


def test_open_path_of_a_missing_key_is_not_found(tmp_path: Path) -> None:
    """A well-formed key with no file is ImageNotFound."""
    with pytest.raises(ImageNotFound):
        OriginalStore(tmp_path).open_path(KEY)


@pytest.mark.parametrize(
    "key",
    [
        "../x",
        "../../studylens.db",
        "abc.jpg",
        DIGEST.upper() + ".jpg",
        DIGEST[:63] + ".jpg",
        DIGEST + "0.jpg",
        DIGEST + ".gif",
        DIGEST + ".JPG",
        DIGEST,
        DIGEST + ".jpg/../../x.jpg",
        "/" + KEY,
        "",
    ],
    ids=[
        "parent",
        "parent-db",
        "short",
        "uppercase",
        "63-hex",
        "65-hex",
        "gif",
        "upper-ext",
        "no-ext",
        "traversal-after-key",
        "absolute",
        "empty",
    ],
)
def test_anything_but_a_key_is_refused(tmp_path: Path, key: str) -> None:
    """Keys that are not `<64 lowercase hex>.<jpg|png|webp>` raise ImageNotFound."""
    with pytest.raises(ImageNotFound):
        OriginalStore(tmp_path).path_for(key)


def test_key_with_trailing_newline_is_refused(tmp_path: Path) -> None:
    """A valid key followed by a newline is not a key."""
    with pytest.raises(ImageNotFound):
        OriginalStore(tmp_path).path_for(KEY + "\n")


def test_saving_under_a_bad_key_writes_nothing(tmp_path: Path) -> None:
    """OriginalStore.save refuses a traversal key before touching the disk."""
    with pytest.raises(ImageNotFound):
        OriginalStore(tmp_path / "images").save("../evil.jpg", FRAME)
    assert files_under(tmp_path) == []


# --- over HTTP -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["abc.jpg", DIGEST.upper() + ".jpg", KEY, "..%2Fstudylens.db", DIGEST + ".jpg%0A"],
    ids=["short", "uppercase", "missing", "encoded-traversal", "encoded-newline"],
)
async def test_get_of_a_bad_key_is_not_found(client: AppClient, key: str) -> None:
    """GET /api/images/<not a stored key> is 404 image_not_found in the envelope."""
    response = await client.get(f"/api/images/{key}")
    error = await error_of(response, 404)
    assert error["code"] == "image_not_found"
