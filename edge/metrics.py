"""Prometheus metrics of one daemon (its own registry, so several apps can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    """Every counter the daemon exposes at `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.frames = Counter(
            "studylens_frames",
            "Frames received, by outcome (analysed, reused, failed, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.model_calls = Counter(
            "studylens_model_calls",
            "Vision model calls, by result (ok or the error code).",
            ["result"],
            registry=self.registry,
        )
        self.model_calls_saved = Counter(
            "studylens_model_calls_saved",
            "Frames answered by the near-duplicate gate instead of a model call.",
            registry=self.registry,
        )
        self.side_effect_failures = Counter(
            "studylens_side_effect_failures",
            "Failures of a frame's side effects (event, tracker, original, hooks), by effect.",
            ["effect"],
            registry=self.registry,
        )
        self.frame_seconds = Histogram(
            "studylens_frame_processing_seconds",
            "Daemon time per analysed frame, the model call excluded.",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
            registry=self.registry,
        )
        self.model_seconds = Histogram(
            "studylens_model_call_seconds",
            "Duration of vision model calls, retries included.",
            buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 30, 60),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
