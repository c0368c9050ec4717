"""Phone frames that already fit the model go as their own bytes, metadata stripped losslessly.

The camera-glasses toolkit streams 720x1280, 504x896 and 360x640 (portrait) frames; a phone sends
one of them as a JPEG. Such a frame is not decoded and re-encoded: its metadata segments are cut
out (`strip_metadata`) and the rest goes to the model byte for byte.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from edge.frames.images import (
    PASS_MAX_BYTES,
    BadImage,
    PreparedFrame,
    StrippedJpeg,
    hamming,
    prepare,
    strip_metadata,
)
from tests.fakes import images

#: The frame sizes of the glasses' toolkit, portrait, and one landscape turn of the largest.
TOOLKIT_SIZES = [(720, 1280), (504, 896), (360, 640)]
SIZES = [*TOOLKIT_SIZES, (1280, 720)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]

GPS_LATITUDE = (52.0, 31.0, 12.5)
MAKER_NOTE = b"SECRET-MAKER-NOTE"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description GPSLatitude="52,31.2N"/></x:xmpmeta>'


def prepared(data: bytes, **limits: int) -> PreparedFrame:
    """Prepare a JPEG with the default limits unless told otherwise."""
    args = {"short_side": 768, "max_pixels": 50_000_000, "quality": 80, **limits}
    return prepare(data, "jpeg", **args)


def segment(marker: int, payload: bytes) -> bytes:
    """One JPEG marker segment: 0xFF, the marker, the big-endian length, the payload."""
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def exif_with_gps(orientation: int | None = None) -> bytes:
    """An EXIF block with a GPS position, a camera model and a maker note."""
    exif = Image.Exif()
    exif[0x0110] = "StudyLens Test Camera"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = GPS_LATITUDE  # GPSLatitude
    exif.get_ifd(0x8769)[0x927C] = MAKER_NOTE  # MakerNote
    return exif.tobytes()


def markers(jpeg: bytes) -> list[int]:
    """The markers of a JPEG's segments up to its first scan (a test's own simple walk)."""
    found, pos = [], 2
    while jpeg[pos + 1] != 0xDA:
        found.append(jpeg[pos + 1])
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return found


def with_metadata(plain: bytes) -> bytes:
    """`plain` (Pillow's JPEG: SOI, JFIF APP0, ...) with metadata a phone may add, everywhere."""
    assert plain[2:4] == b"\xff\xe0"  # Pillow's JFIF segment comes first
    app0_end = 4 + int.from_bytes(plain[4:6], "big")
    dqt = plain.index(b"\xff\xdb")
    metadata = (
        segment(0xE1, b"Exif\x00\x00" + exif_with_gps())
        + segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)
        + segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"\x00" * 128)
        + segment(0xE2, b"FPXR\x00" + b"\x00" * 32)
        + segment(0xED, b"Photoshop 3.0\x00" + b"8BIM-IPTC-caption")
        + segment(0xEE, b"NotAdobe" + b"\x00" * 4)  # an APP14 that is not Adobe's
        + segment(0xE0, b"JFXX\x00\x10" + b"\x00" * 64)  # a JFIF extension thumbnail
        + segment(0xFE, b"a comment: taken at home")
    )
    return (
        plain[:app0_end]
        + metadata
        + plain[app0_end:dqt]
        + segment(0xFE, b"another comment between segments")
        + plain[dqt:]
        + b"trailing preview or motion-photo video after EOI"
    )


def pixels(jpeg: bytes) -> np.ndarray:
    """Decode a JPEG fully."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"))


# --- strip_metadata: what stays and what goes -------------------------------------------------


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_stripping_gives_back_the_jpeg_without_its_metadata(progressive: bool) -> None:
    """Metadata inserted into a JPEG comes out again: every other byte is the original's."""
    plain = images.encode(images.scene(320, 240), "JPEG", quality=85, progressive=progressive)
    stripped = strip_metadata(with_metadata(plain))
    assert stripped.jpeg == plain
    assert stripped.frame == (0xC2 if progressive else 0xC0)


def test_a_stripped_jpeg_decodes_to_the_same_pixels() -> None:
    """Nothing about the image changes: the decoded pixels are identical."""
    plain = images.encode(images.scene(320, 240), "JPEG", quality=85)
    assert np.array_equal(pixels(strip_metadata(with_metadata(plain)).jpeg), pixels(plain))


def test_stripped_jpeg_has_only_decoding_segments() -> None:
    """No APP1..APP15 (bar Adobe's), no COM, no JFXX; JFIF, DQT, SOF, DHT stay."""
    plain = images.encode(images.scene(320, 240), "JPEG", quality=85)
    kept = markers(strip_metadata(with_metadata(plain)).jpeg)
    assert set(kept) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDD}
    assert {0xE0, 0xDB, 0xC0, 0xC4} <= set(kept)
    assert set(markers(with_metadata(plain))) - set(kept) == {0xE1, 0xE2, 0xED, 0xEE, 0xFE}


def test_adobe_segment_is_kept() -> None:
    """Adobe's APP14 says whether the pixels are YCbCr or RGB: decoding needs it."""
    adobe = segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00")  # transform 0: RGB
    plain = images.encode(images.scene(64, 48), "JPEG")
    data = plain[:2] + adobe + plain[2:]
    assert strip_metadata(data).jpeg == data


def test_restart_markers_in_the_scan_are_kept() -> None:
    """RST0..7 inside the entropy-coded data are image data, not the end of the scan."""
    plain = images.encode(images.scene(320, 240), "JPEG", restart_marker_blocks=4)
    assert b"\xff\xdd" in plain  # DRI
    assert any(bytes([0xFF, 0xD0 + n]) in plain for n in range(8))
    assert strip_metadata(with_metadata(plain)).jpeg == plain


def test_fill_bytes_before_a_marker_are_dropped() -> None:
    """0xFF fill bytes may precede any marker; the frame without them is the same JPEG."""
    plain = images.encode(images.scene(64, 48), "JPEG")
    dqt = plain.index(b"\xff\xdb")
    assert strip_metadata(plain[:dqt] + b"\xff\xff\xff" + plain[dqt:]).jpeg == plain


def test_second_image_of_an_mpo_is_dropped() -> None:
    """A multi-picture file (phones append previews, depth maps) keeps only its first image."""
    first, second = images.scene(320, 240, seed=1), images.scene(320, 240, seed=2)
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second], quality=85)
    mpo = out.getvalue()
    stripped = strip_metadata(mpo).jpeg
    assert b"MPF\x00" in mpo
    assert b"MPF\x00" not in stripped
    assert stripped.count(b"\xff\xd8") == 1
    assert len(stripped) < len(mpo) * 0.6
    with Image.open(io.BytesIO(mpo)) as original:
        assert np.array_equal(pixels(stripped), np.asarray(original.convert("RGB")))
    assert prepared(mpo).jpeg == stripped


def test_a_long_fill_run_is_still_one_marker() -> None:
    """A megabyte of fill bytes before a marker parses (as one run, not byte by byte)."""
    plain = images.encode(images.scene(64, 48), "JPEG")
    eoi = plain.rindex(b"\xff\xd9")
    assert strip_metadata(plain[:eoi] + b"\xff" * 1_000_000 + plain[eoi:]).jpeg == plain


@pytest.mark.parametrize(("comments", "parses"), [(900, True), (1000, False)])
def test_a_jpeg_of_countless_segments_is_bad_image(comments: int, parses: bool) -> None:
    """Past 1,000 segments the walk gives up (BadImage); a few hundred comments are fine."""
    plain = images.encode(images.scene(64, 48), "JPEG")
    data = plain[:2] + segment(0xFE, b"") * comments + plain[2:]
    if parses:
        assert strip_metadata(data).jpeg == plain
    else:
        with pytest.raises(BadImage):
            strip_metadata(data)


def test_no_exif_gps_or_maker_note_is_left() -> None:
    """Neither Pillow nor a byte search finds EXIF, GPS, the maker note or XMP afterwards."""
    plain = images.encode(images.scene(320, 240), "JPEG", quality=85)
    stripped = strip_metadata(with_metadata(plain)).jpeg
    with Image.open(io.BytesIO(stripped)) as image:
        assert image.getexif() == {}
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
    for secret in (b"Exif", MAKER_NOTE, b"StudyLens Test Camera", b"GPSLatitude", b"8BIM"):
        assert secret not in stripped


# --- strip_metadata: malformed input raises BadImage, never anything else --------------------


def test_every_truncation_is_bad_image() -> None:
    """Each prefix of a JPEG, cut anywhere before its end marker, raises BadImage."""
    data = with_metadata(images.encode(images.scene(64, 48), "JPEG"))
    end = data.rindex(b"\xff\xd9")
    for cut in range(end + 1):
        with pytest.raises(BadImage):
            strip_metadata(data[:cut])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"\xff\xd8",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xff\xff",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8garbage",
        b"\xff\xd8\xff\xd9",  # SOI EOI: no image
        b"\xff\xd8\xff\xd8\xff\xd9",  # a second SOI
        b"\xff\xd8\xff\xd0\xff\xd9",  # a restart marker outside a scan
        b"\xff\xd8\xff\x00\xff\xd9",  # a stuffed zero outside a scan
        b"\xff\xd8\xff\xe1\x00\x01\xff\xd9",  # a length below 2
        b"\xff\xd8\xff\xe1\xff\xff\x00\x00",  # a length past the end
        b"\xff\xd8\xff\xda\x00\x02\x00\x00\xff\xd9",  # a scan before any frame header
        b"\xff\xd8\xff\xc0\x00\x02\xff\xd9",  # a frame header but no scan
    ],
    ids=[
        "empty",
        "one-byte",
        "soi-only",
        "soi-and-ff",
        "soi-and-fill",
        "png",
        "garbage",
        "no-image",
        "second-soi",
        "stray-rst",
        "stray-zero",
        "short-length",
        "long-length",
        "scan-before-frame",
        "frame-without-scan",
    ],
)
def test_malformed_jpeg_is_bad_image(data: bytes) -> None:
    """Structurally broken JPEGs raise BadImage."""
    with pytest.raises(BadImage):
        strip_metadata(data)


def test_corrupted_bytes_give_a_jpeg_or_bad_image() -> None:
    """Random byte damage either still parses or raises BadImage: no other exception."""
    data = np.frombuffer(with_metadata(images.encode(images.scene(64, 48), "JPEG")), np.uint8)
    rng = np.random.default_rng(16)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(2000):
        damaged = data.copy()
        where = rng.integers(0, len(data), rng.integers(1, 5))
        damaged[where] = rng.integers(0, 256, len(where))
        try:
            result = strip_metadata(damaged.tobytes())
        except BadImage:
            outcomes["refused"] += 1
        else:
            assert isinstance(result, StrippedJpeg)
            assert result.jpeg.startswith(b"\xff\xd8")
            assert result.jpeg.endswith(b"\xff\xd9")
            outcomes["parsed"] += 1
    assert outcomes["parsed"] > 0
    assert outcomes["refused"] > 0


# --- prepare: which frames go as they are ----------------------------------------------------


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_toolkit_frame_goes_as_its_own_bytes(width: int, height: int) -> None:
    """A glasses frame with EXIF and GPS reaches the model as the same JPEG minus metadata."""
    plain = images.jpeg(width, height, quality=85)
    frame = prepared(with_metadata(plain))
    assert frame.passed
    assert frame.jpeg == plain
    assert (frame.width, frame.height) == (width, height)
    with Image.open(io.BytesIO(frame.jpeg)) as image:
        assert image.size == (width, height)
        assert image.getexif() == {}


def test_progressive_frame_goes_as_it_is() -> None:
    """Progressive JPEG (some phone encoders write it) is passed as well as baseline."""
    plain = images.encode(images.scene(720, 1280), "JPEG", quality=85, progressive=True)
    frame = prepared(with_metadata(plain))
    assert frame.passed
    assert frame.jpeg == plain


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_hash_of_a_passed_frame_is_the_decoded_frames(width: int, height: int) -> None:
    """The 1/8-scale hash is within 2 bits of the full decode's, for each size and scene."""
    distances = []
    for seed in range(12):
        data = images.jpeg(width, height, seed=seed)
        passed = prepared(data)
        decoded = prepared(data, pass_max_bytes=0)  # the same frame the decode path's way
        assert passed.passed
        assert not decoded.passed
        distances.append(hamming(passed.dhash, decoded.dhash))
    assert max(distances) <= 2
    assert sorted(distances)[len(distances) // 2] == 0


@pytest.mark.parametrize(("width", "height"), TOOLKIT_SIZES, ids=SIZE_IDS[:3])
def test_a_passed_frame_is_only_decoded_at_reduced_scale(
    width: int, height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pixel is decoded at full size: the hash's decode is at 1/8 scale, luma only."""
    decoded: list[tuple[str, tuple[int, int]]] = []
    load = ImageFile.ImageFile.load

    def recording(self: ImageFile.ImageFile) -> object:
        decoded.append((self.mode, self.size))
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording)
    assert prepared(images.jpeg(width, height)).passed
    assert set(decoded) == {("L", (width // 8, height // 8))}


def test_hash_of_a_passed_frame_tells_scenes_apart() -> None:
    """Distinct views give distant hashes on the pass-through path too."""
    hashes = [prepared(images.jpeg(720, 1280, seed=s)).dhash for s in range(4)]
    assert min(hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]) > 12


@pytest.mark.parametrize("orientation", [None, 1], ids=["no-exif-orientation", "orientation-1"])
def test_upright_frames_go_as_they_are(orientation: int | None) -> None:
    """No orientation tag, or 1 (upright): nothing to turn, the frame goes as it is."""
    plain = images.jpeg(504, 896)
    exif = segment(0xE1, b"Exif\x00\x00" + exif_with_gps(orientation))
    frame = prepared(plain[:2] + exif + plain[2:])
    assert frame.passed
    assert frame.jpeg == plain


def quadrant_frame(width: int, height: int, orientation: int) -> bytes:
    """A dark frame with a white top-left quadrant, tagged with an EXIF orientation."""
    image = Image.new("RGB", (width, height), (20, 20, 20))
    image.paste((240, 240, 240), (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return images.encode(image, "JPEG", quality=90, exif=exif.tobytes())


@pytest.mark.parametrize(
    ("orientation", "size", "white_corner"),
    [
        (3, (504, 896), (1, 1)),  # turned 180: the white corner is bottom right
        (6, (1280, 720), (0, 1)),  # turned 90 clockwise to upright: top right
        (8, (1280, 720), (1, 0)),  # turned 90 anticlockwise: bottom left
        (2, (504, 896), (0, 1)),  # mirrored: top right
    ],
)
def test_turned_frames_are_turned_upright_by_the_decode_path(
    orientation: int, size: tuple[int, int], white_corner: tuple[int, int]
) -> None:
    """Orientation other than 1: decoded, turned and re-encoded, its EXIF gone."""
    frame = prepared(quadrant_frame(*size, orientation))
    assert not frame.passed
    image = Image.open(io.BytesIO(frame.jpeg))
    assert image.getexif() == {}
    w, h = image.size
    assert (w, h) == ((size[1], size[0]) if orientation in (6, 8) else size)
    grey = np.asarray(image.convert("L"))
    quadrants = {
        (row, col): grey[row * h // 2 : (row + 1) * h // 2, col * w // 2 : (col + 1) * w // 2]
        for row in (0, 1)
        for col in (0, 1)
    }
    brightest = max(quadrants, key=lambda q: float(quadrants[q].mean()))
    assert brightest == white_corner


def test_frame_over_the_byte_budget_is_reencoded() -> None:
    """A 720x1280 JPEG of 355 KB is decoded and re-encoded smaller, not passed."""
    data = images.jpeg(720, 1280, quality=95)
    assert len(data) > PASS_MAX_BYTES
    frame = prepared(data)
    assert not frame.passed
    assert len(frame.jpeg) < PASS_MAX_BYTES
    assert Image.open(io.BytesIO(frame.jpeg)).size == (720, 1280)


def test_byte_budget_counts_the_stripped_frame() -> None:
    """Exactly the budget passes, one byte less does not; metadata does not count."""
    plain = images.jpeg(360, 640)
    data = with_metadata(plain)
    assert prepared(data, pass_max_bytes=len(plain)).passed
    assert not prepared(data, pass_max_bytes=len(plain) - 1).passed


@pytest.mark.parametrize(("width", "height"), [(769, 1366), (960, 1280), (4000, 3000)])
def test_frame_over_the_short_side_is_reencoded(width: int, height: int) -> None:
    """A short side over `model_image_short_side`, however few bytes: the decode path."""
    data = images.jpeg(width // 8, height // 8, quality=30)
    small_but_large = images.encode(
        Image.open(io.BytesIO(data)).resize((width, height)), "JPEG", quality=30
    )
    frame = prepared(small_but_large)
    assert not frame.passed
    assert min(frame.width, frame.height) <= 768


def test_short_side_bound_is_the_setting() -> None:
    """With `short_side` 256, a 360x640 frame is re-encoded to fit."""
    frame = prepared(images.jpeg(360, 640), short_side=256)
    assert not frame.passed
    assert min(frame.width, frame.height) <= 256


def test_cmyk_jpeg_is_converted_not_passed() -> None:
    """A CMYK JPEG fits in size but the model gets RGB: decode path."""
    data = images.encode(images.scene(360, 640).convert("CMYK"), "JPEG")
    frame = prepared(data)
    assert not frame.passed
    assert Image.open(io.BytesIO(frame.jpeg)).mode == "RGB"


def test_greyscale_jpeg_goes_as_it_is() -> None:
    """A greyscale JPEG is a valid frame for the model as it is."""
    data = images.encode(images.scene(360, 640).convert("L"), "JPEG")
    frame = prepared(data)
    assert frame.passed
    assert frame.jpeg == data


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_other_formats_are_reencoded(fmt: str) -> None:
    """PNG and WebP of a toolkit size still become a JPEG of the same size."""
    data = images.png(360, 640) if fmt == "png" else images.webp(360, 640)
    frame = prepare(data, fmt, short_side=768, max_pixels=50_000_000, quality=80)  # type: ignore[arg-type]
    assert not frame.passed
    assert Image.open(io.BytesIO(frame.jpeg)).format == "JPEG"


@pytest.mark.parametrize(("width", "height"), TOOLKIT_SIZES, ids=SIZE_IDS[:3])
def test_truncated_toolkit_frame_is_bad_image(width: int, height: int) -> None:
    """A frame cut short in its image data raises BadImage, at a half or near its end."""
    data = images.jpeg(width, height)
    for cut in (len(data) // 2, len(data) - 200):
        with pytest.raises(BadImage):
            prepared(data[:cut])


def test_a_jpeg_the_walk_refuses_but_pillow_reads_is_reencoded() -> None:
    """Junk between segments: Pillow skips it, the strict walk does not; the frame still goes."""
    data = images.jpeg(360, 640)
    sof = data.index(b"\xff\xc0")
    junky = data[:sof] + b"junk" + data[sof:]
    with pytest.raises(BadImage):
        strip_metadata(junky)
    frame = prepared(junky)
    assert not frame.passed
    assert (frame.width, frame.height) == (360, 640)


@pytest.mark.parametrize(
    ("grain", "full_size"),
    [(16, True), (25, True), (90, False)],
    ids=["lower-quality", "lowest-quality", "fewer-pixels"],
)
def test_a_grainy_frame_goes_to_the_model_within_the_byte_budget(
    grain: int, full_size: bool
) -> None:
    """Noise over 150 KB at the configured quality is sent at lower quality, else smaller."""
    rng = np.random.default_rng(grain)
    base = np.linspace(0, 200, 720 * 1280).reshape(1280, 720, 1)
    pixels = np.clip(base + rng.normal(0, grain, (1280, 720, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    frame = prepared(out.getvalue())
    assert len(frame.jpeg) <= PASS_MAX_BYTES
    assert ((frame.width, frame.height) == (720, 1280)) == full_size  # pixels go last
    with Image.open(io.BytesIO(frame.jpeg)) as sent:
        assert sent.size == (frame.width, frame.height)
