"""Prometheus metrics of one daemon (its own registry, so several apps can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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

        self.sync_facts = Counter(
            "studylens_sync_facts",
            "Facts the cloud answered for, by status (stored, unchanged, rejected).",
            ["status"],
            registry=self.registry,
        )
        self.sync_images = Counter(
            "studylens_sync_images",
            "Originals handled by sync, by result (uploaded, missing).",
            ["result"],
            registry=self.registry,
        )
        self.sync_failures = Counter(
            "studylens_sync_failures",
            "Sync passes that failed, by reason (unavailable, unlinked, refused, error).",
            ["reason"],
            registry=self.registry,
        )
        self.sync_pending = Gauge(
            "studylens_sync_pending",
            "What waits for the cloud, by what (facts, images, rejected).",
            ["what"],
            registry=self.registry,
        )

        self.cards_made = Counter(
            "studylens_cards_made",
            "Review cards made from session pages, by maker (on-device or model).",
            ["maker"],
            registry=self.registry,
        )
        self.card_making_failures = Counter(
            "studylens_card_making_failures",
            "Card-making passes that made no cards because the maker failed, by error code.",
            ["code"],
            registry=self.registry,
        )

        self.voice_sessions = Gauge(
            "studylens_voice_sessions", "Live voice sessions.", registry=self.registry
        )
        self.voice_bad_frames = Counter(
            "studylens_voice_bad_frames",
            "Phone audio frames refused (wrong length, too large).",
            registry=self.registry,
        )
        self.voice_dropped = Counter(
            "studylens_voice_audio_dropped",
            "Audio chunks dropped past the soft buffer limit, by direction.",
            ["direction"],
            registry=self.registry,
        )
        self.voice_reconnects = Counter(
            "studylens_voice_reconnects",
            "Realtime sessions reopened, by reason (renewal before the cap, or a lost link).",
            ["reason"],
            registry=self.registry,
        )
        self.voice_barge_ins = Counter(
            "studylens_voice_barge_ins",
            "Times the student spoke over the tutor.",
            registry=self.registry,
        )
        self.voice_local_onsets = Counter(
            "studylens_voice_local_onsets",
            "Speech onsets heard at the edge over the tutor (the phone stopped at once).",
            registry=self.registry,
        )
        self.voice_event_failures = Counter(
            "studylens_voice_event_failures",
            "Realtime events the relay failed to handle (logged).",
            registry=self.registry,
        )
        self.voice_tool_calls = Counter(
            "studylens_voice_tool_calls",
            "The tutor's function calls, by tool and outcome (ok, refused, failed).",
            ["tool", "outcome"],
            registry=self.registry,
        )

        self.voice_latency = Histogram(
            "studylens_voice_relay_latency_seconds",
            "Time audio spends in the relay: phone frame in -> append sent (to_model), "
            "model delta in -> phone frame sent (to_phone).",
            ["direction"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 1),
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "studylens_event_loop_lag_seconds",
            "How late the event loop wakes a 50 ms timer: time it could not serve anyone.",
            buckets=(0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.0075, 0.01, 0.025, 0.1),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
