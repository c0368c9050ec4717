"""The frame path never holds the event loop: decoding, hashing, storing and the model off it.

Asyncio's debug mode times each callback; a blocking step (Pillow, SHA-256 of a large upload,
a file write or an SQLite call made on the loop) would show up as one over the threshold.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import images
from tests.support import AppClient, start_session, upload


async def test_uploads_hold_the_loop_no_longer_than_the_threshold(
    vision_client: AppClient, no_slow_callbacks: Any
) -> None:
    """Three distinct 1280x960 frames, analysed and stored, pass without a slow callback."""
    session_id = await start_session(vision_client)
    await upload(vision_client, images.jpeg(), session_id)  # first-use set-up is not watched
    frames = [images.jpeg(seed=seed) for seed in (11, 12, 13)]  # made before: the test's own work

    with no_slow_callbacks():
        answers = [await upload(vision_client, frame, session_id) for frame in frames]

    assert [a["reused"] for a in answers] == [False, False, False]


async def test_dashboard_reads_hold_the_loop_no_longer_than_the_threshold(
    vision_client: AppClient, no_slow_callbacks: Any
) -> None:
    """The dashboard's reads (today, frames, sessions) answer without a slow callback."""
    session_id = await start_session(vision_client)
    for seed in (21, 22):
        await upload(vision_client, images.jpeg(seed=seed), session_id)

    with no_slow_callbacks():
        for path in ("/api/dashboard/today", "/api/frames/recent", "/api/sessions"):
            response = await vision_client.get(path)
            assert response.status == 200, path
