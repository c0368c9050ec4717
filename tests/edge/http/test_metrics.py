"""Prometheus metrics and the Server-Timing header."""

from __future__ import annotations

import re

from tests.support import AppClient


async def test_metrics_are_in_the_prometheus_text_format(client: AppClient) -> None:
    """/metrics serves the frame counters as text, not the JSON envelope."""
    response = await client.get("/metrics")
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
