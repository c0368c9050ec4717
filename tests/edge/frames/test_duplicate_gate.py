"""The near-duplicate gate: an unchanged view reuses the last analysis instead of a model call."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr

from edge.frames.dedupe import DuplicateGate
from edge.frames.images import dhash, hamming, prepare
from edge.settings import FrameSettings
from shared.analysis import FrameAnalysis
from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI, is_card_request
from tests.support import AppClient, StartApp, metrics_text, services_of, start_session, upload

SESSION = "session-a"
ANALYSIS = FrameAnalysis(
    is_studying=True,
    is_active=True,
    is_distracted=False,
    topic="Biology",
    subtopic="Cell division",
    extracted_text="Mitosis",
)


async def outcomes(client: AppClient) -> Counter[str]:
    """How many learning events have each outcome."""
    rows = await services_of(client).store.run(
        lambda db: [row["outcome"] for row in db.query("select outcome from learning_events")]
    )
    return Counter(rows)


# --- through HTTP ----------------------------------------------------------------------------


async def test_same_image_four_times_calls_the_model_once(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """Four posts of one frame make one model request."""
    frame = images.jpeg(seed=7)
    session_id = await start_session(vision_client)
    for _ in range(4):
        await upload(vision_client, frame, session_id)
    assert len(openai_peer.requests) == 1


async def test_repeated_frames_reuse_the_first_analysis(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The later answers are `reused: true` with the first answer's analysis and source."""
    frame = images.jpeg(seed=7)
    session_id = await start_session(vision_client)
    first = await upload(vision_client, frame, session_id)
    openai_peer.analysis = {**openai_peer.analysis, "topic": "Math"}  # would differ if asked
    later = [await upload(vision_client, frame, session_id) for _ in range(3)]
    assert first["reused"] is False
    assert [answer["reused"] for answer in later] == [True, True, True]
    assert all(answer["analysis"] == first["analysis"] for answer in later)
    assert all(answer["source"] == first["source"] for answer in later)
    assert len({answer["analysisId"] for answer in [first, *later]}) == 4


async def test_reused_frames_are_recorded_as_events(vision_client: AppClient) -> None:
    """Four posts of one frame are four events, three of them 'reused'."""
    frame = images.jpeg(seed=7)
    session_id = await start_session(vision_client)
    for _ in range(4):
        await upload(vision_client, frame, session_id)
    assert await outcomes(vision_client) == Counter({"analysed": 1, "reused": 3})


async def test_saved_calls_are_counted(vision_client: AppClient) -> None:
    """Three reused frames show as `studylens_model_calls_saved_total 3.0`."""
    frame = images.jpeg(seed=7)
    session_id = await start_session(vision_client)
    for _ in range(4):
        await upload(vision_client, frame, session_id)
    text = metrics_text(vision_client)
    assert "studylens_model_calls_saved_total 3.0" in text.splitlines()
    assert 'studylens_frames_total{outcome="reused"} 3.0' in text.splitlines()


async def test_distinct_frames_call_the_model_every_time(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """Four different scenes make four model requests, none reused."""
    session_id = await start_session(vision_client)
    answers = [await upload(vision_client, images.jpeg(seed=s), session_id) for s in range(4)]
    assert len(openai_peer.requests) == 4
    assert [answer["reused"] for answer in answers] == [False] * 4


async def test_disabled_gate_calls_the_model_for_identical_frames(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """With dedupe_frames off, the same frame three times makes three model requests."""
    client = await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        dedupe_frames=False,
    )
    frame = images.jpeg(seed=7)
    session_id = await start_session(client)
    answers = [await upload(client, frame, session_id) for _ in range(3)]
    assert len(openai_peer.requests) == 3
    assert [answer["reused"] for answer in answers] == [False] * 3


async def test_reencoded_scene_is_a_duplicate(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The same scene at JPEG quality 95 then 40 (different bytes) is one model call."""
    session_id = await start_session(vision_client)
    sharp = await upload(vision_client, images.jpeg(seed=5, quality=95), session_id)
    soft = await upload(vision_client, images.jpeg(seed=5, quality=40), session_id)
    assert sharp["imageKey"] != soft["imageKey"]
    assert soft["reused"] is True
    assert len(openai_peer.requests) == 1


async def test_sessions_do_not_share_the_gate(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The frame analysed in one session is analysed afresh in the next one."""
    frame = images.jpeg(seed=7)
    first_session = await start_session(vision_client)
    await upload(vision_client, frame, first_session)
    second_session = await start_session(vision_client)
    answer = await upload(vision_client, frame, second_session)
    assert answer["reused"] is False
    # The first session's end also asks for its review cards: not a frame analysis.
    assert len([r for r in openai_peer.requests if not is_card_request(r)]) == 2


# --- DuplicateGate, pure ---------------------------------------------------------------------


def test_gate_matches_within_distance() -> None:
    """A hash a few bits from the remembered one returns the remembered analysis."""
    gate = DuplicateGate(max_distance=6)
    gate.remember(SESSION, 0b0, ANALYSIS, "gpt-4.1")
    same = gate.match(SESSION, 0b111111)
    assert same is not None
    assert (same.analysis, same.source, same.dhash) == (ANALYSIS, "gpt-4.1", 0)


def test_gate_misses_beyond_distance() -> None:
    """A hash one bit beyond the distance is not a match."""
    gate = DuplicateGate(max_distance=6)
    gate.remember(SESSION, 0b0, ANALYSIS, "gpt-4.1")
    assert gate.match(SESSION, 0b1111111) is None


def test_gate_with_distance_zero_needs_equal_hashes() -> None:
    """At distance 0 only the identical hash matches."""
    gate = DuplicateGate(max_distance=0)
    gate.remember(SESSION, 0xABCD, ANALYSIS, "gpt-4.1")
    assert gate.match(SESSION, 0xABCD) is not None
    assert gate.match(SESSION, 0xABCC) is None


def test_gate_knows_nothing_of_a_new_session() -> None:
    """A session with no analysed frame never matches."""
    gate = DuplicateGate(max_distance=64)
    gate.remember(SESSION, 0, ANALYSIS, "gpt-4.1")
    assert gate.match("session-b", 0) is None


def test_disabled_gate_never_matches() -> None:
    """A disabled gate misses even the identical hash."""
    gate = DuplicateGate(max_distance=6, enabled=False)
    gate.remember(SESSION, 0xABCD, ANALYSIS, "gpt-4.1")
    assert gate.match(SESSION, 0xABCD) is None


def test_forget_drops_the_session() -> None:
    """After forget, the session's frame no longer matches; forgetting twice is harmless."""
    gate = DuplicateGate(max_distance=6)
    gate.remember(SESSION, 0xABCD, ANALYSIS, "gpt-4.1")
    gate.forget(SESSION)
    gate.forget(SESSION)
    assert gate.match(SESSION, 0xABCD) is None


def test_gate_compares_with_the_last_analysed_frame() -> None:
    """A slow drift is caught: frames are compared with the last analysed, not the last seen."""
    gate = DuplicateGate(max_distance=4)
    gate.remember(SESSION, 0b0, ANALYSIS, "gpt-4.1")
    assert gate.match(SESSION, 0b1111) is not None  # 4 bits from the analysed frame
    assert gate.match(SESSION, 0b11111111) is None  # 4 from the last seen, 8 from the analysed


def test_remember_replaces_the_last_analysed_frame() -> None:
    """A newly analysed frame becomes the one compared against."""
    gate = DuplicateGate(max_distance=0)
    gate.remember(SESSION, 1, ANALYSIS, "gpt-4.1")
    gate.remember(SESSION, 2, ANALYSIS, "gpt-4.1-mini")
    assert gate.match(SESSION, 1) is None
    latest = gate.match(SESSION, 2)
    assert latest is not None
    assert latest.source == "gpt-4.1-mini"


# --- dhash and hamming -----------------------------------------------------------------------


def test_hamming_counts_differing_bits() -> None:
    """Hamming distance is the number of differing bits."""
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(0xFFFF, 0xFFFF) == 0
    assert hamming(0, 2**64 - 1) == 64


def gradient(rising: bool) -> Image.Image:
    """A 90x80 grey image that brightens (or darkens) left to right."""
    row = np.linspace(0, 255, 90) if rising else np.linspace(255, 0, 90)
    return Image.fromarray(np.tile(row, (80, 1)).astype(np.uint8))


def test_dhash_of_rising_gradient_is_all_ones() -> None:
    """Brightness rising left to right sets every one of the 64 bits."""
    assert dhash(gradient(rising=True)) == 2**64 - 1


def test_dhash_of_falling_gradient_is_zero() -> None:
    """Brightness falling left to right sets none of the bits."""
    assert dhash(gradient(rising=False)) == 0


def test_dhash_ignores_size_and_colour_mode() -> None:
    """The same scene at another size and as RGB or greyscale hashes (almost) the same."""
    big = images.scene(1280, 960, seed=3)
    small = big.resize((320, 240), Image.Resampling.BILINEAR)
    assert hamming(dhash(big), dhash(small)) <= 2
    assert dhash(big) == dhash(big.convert("L"))


def test_dhash_tells_distinct_scenes_apart() -> None:
    """Different scenes differ by far more bits than the default gate distance."""
    hashes = [dhash(images.scene(320, 240, seed=s)) for s in range(4)]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > 6


# --- the default threshold, end to end ------------------------------------------------------------


def frame_hash(png: bytes) -> int:
    """The dHash the daemon computes for an upload, with its default preparation settings."""
    defaults = FrameSettings()
    return prepare(
        png,
        "png",
        short_side=defaults.model_image_short_side,
        max_pixels=defaults.max_image_pixels,
        quality=defaults.model_image_quality,
    ).dhash


def grid_png(cells: np.ndarray) -> bytes:
    """A 9x8 grid of grey cells, 64 px each, as a lossless PNG upload."""
    image = Image.fromarray(cells.astype(np.uint8), "L").resize(
        (576, 512), Image.Resampling.NEAREST
    )
    return images.encode(image.convert("RGB"), "PNG")


def pair_at_distance(bits: int, seed: int = 3) -> tuple[bytes, bytes]:
    """Two frames whose hashes, as the daemon computes them, differ in exactly `bits` bits."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 216, size=(8, 9))
    first = grid_png(base)
    target = frame_hash(first)
    other = base.copy()
    for _ in range(2000):  # nudge one cell at a time until the distance is exactly right
        candidate = other.copy()
        row, col = rng.integers(0, 8), rng.integers(0, 9)
        candidate[row, col] = rng.integers(40, 216)
        png = grid_png(candidate)
        distance = hamming(target, frame_hash(png))
        if distance == bits:
            return first, png
        if distance < bits:
            other = candidate
    raise AssertionError(f"no pair {bits} bits apart found")


@pytest.mark.parametrize("bits", [8, 10, 12])
async def test_frames_8_to_12_bits_apart_are_both_analysed_by_default(
    vision_client: AppClient, openai_peer: FakeOpenAI, bits: int
) -> None:
    """With default settings, a view that changed this much is a new view: two model calls."""
    first, second = pair_at_distance(bits)
    session_id = await start_session(vision_client)

    answers = [await upload(vision_client, frame, session_id) for frame in (first, second)]

    assert [a["reused"] for a in answers] == [False, False]
    assert len(openai_peer.requests) == 2


@pytest.mark.parametrize("bits", [0, 3, 6])
async def test_frames_within_the_default_distance_are_reused(
    vision_client: AppClient, openai_peer: FakeOpenAI, bits: int
) -> None:
    """With default settings, frames up to 6 bits apart reuse the first analysis."""
    first, second = pair_at_distance(bits) if bits else (grid_png(np.full((8, 9), 90)),) * 2
    session_id = await start_session(vision_client)

    answers = [await upload(vision_client, frame, session_id) for frame in (first, second)]

    assert [a["reused"] for a in answers] == [False, True]
    assert len(openai_peer.requests) == 1


# --- the gate's memory ----------------------------------------------------------------------------


def test_a_match_carries_the_remembered_confidence() -> None:
    """A reused analysis says how sure its analyser was, as remembered."""
    gate = DuplicateGate(max_distance=6)
    gate.remember(SESSION, 0b1010, ANALYSIS, "on-device", confidence=0.75)

    match = gate.match(SESSION, 0b1010)

    assert match is not None
    assert match.confidence == 0.75


def test_the_gate_remembers_at_most_max_sessions() -> None:
    """Past MAX_SESSIONS, the least recently remembered session is forgotten, and only it."""
    gate = DuplicateGate(max_distance=0)
    sessions = [f"s{n}" for n in range(DuplicateGate.MAX_SESSIONS + 1)]
    for session in sessions:
        gate.remember(session, 1, ANALYSIS, "model")

    assert gate.match(sessions[0], 1) is None
    assert all(gate.match(session, 1) is not None for session in sessions[1:])


def test_remembering_a_session_again_makes_it_the_newest() -> None:
    """A session analysed again outlives sessions remembered before that."""
    gate = DuplicateGate(max_distance=0)
    gate.remember("old but busy", 1, ANALYSIS, "model")
    for n in range(DuplicateGate.MAX_SESSIONS - 1):
        gate.remember(f"s{n}", 1, ANALYSIS, "model")
    gate.remember("old but busy", 1, ANALYSIS, "model")

    gate.remember("one more", 1, ANALYSIS, "model")

    assert gate.match("old but busy", 1) is not None
    assert gate.match("s0", 1) is None
