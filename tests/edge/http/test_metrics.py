"""Prometheus metrics and the Server-Timing header."""

from __future__ import annotations

import re

from tests.fakes import images
from tests.support import AppClient, form


async def test_metrics_are_in_the_prometheus_text_format(owner: AppClient) -> None:
    """/metrics serves the frame counters as text, not the JSON envelope."""
    response = await owner.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert "# TYPE studylens_model_calls_saved_total counter" in text
    assert "studylens_frame_processing_seconds_bucket" in text


async def test_every_response_says_how_long_the_daemon_took(client: AppClient) -> None:
    """Server-Timing carries the daemon's own time, errors included."""
    for path in ("/healthz", "/no-such-route"):
        response = await client.get(path)
        assert re.fullmatch(r"app;dur=\d+\.\d", response.headers["Server-Timing"]), path


async def test_upload_timing_separates_receiving_from_working(vision_client: AppClient) -> None:
    """An upload's Server-Timing tells receiving, working and waiting for the model apart."""
    response = await vision_client.post("/api/upload-and-analyze", data=form(images.jpeg()))
    assert response.status == 200
    timing = response.headers["Server-Timing"]
    assert re.fullmatch(r"recv;dur=\d+\.\d, app;dur=\d+\.\d, model;dur=\d+\.\d", timing)
