"""Hybrid analysis: read every frame on the device, ask the model only when it adds something.

The local reading decides: a new topic, text substantially different from what the model last
saw, or too many frames or seconds since the last call mean a model call; otherwise the model's
last analysis stands (the local text keeps `extractedText` current). Calls saved are counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.metrics import Metrics
from edge.settings import HybridSettings
from edge.vision.classify import text_distance
from edge.vision.local import LocalVision
from edge.vision.port import ModelAnswer, VisionAnalyser, VisionError


@dataclass
class _Seen:
    topic: str
    text: str
    at: float
    answer: ModelAnswer
    frames: int = 0


class HybridGate:
    """The decision alone, with no I/O: whether a local reading needs the model."""

    def __init__(self, policy: HybridSettings) -> None:
        self.policy = policy
        self.last: _Seen | None = None

    def needs_model(self, topic: str, text: str, now: float) -> str | None:
        """Why the model must be asked (a reason), or None when the last answer stands."""
        last = self.last
        if last is None:
            return "first"
        if topic != last.topic:
            return "topic"
        if text_distance(text, last.text) > self.policy.text_change:
            return "text"
        if last.frames + 1 >= self.policy.max_frames:
            return "frames"
        if now - last.at >= self.policy.max_seconds:
            return "seconds"
        return None

    def called(self, topic: str, text: str, now: float, answer: ModelAnswer) -> None:
        """Remember what the model was asked about and what it said."""
        self.last = _Seen(topic, text, now, answer)

    def reused(self) -> ModelAnswer:
        """Count a frame answered from the last model call."""
        assert self.last is not None  # noqa: S101 - needs_model() returned None first
        self.last.frames += 1
        return self.last.answer


class HybridVision:
    """The vision port that puts the on-device reading in front of the model."""

    def __init__(
        self,
        local: LocalVision,
        model: VisionAnalyser,
        policy: HybridSettings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local = local
        self._model = model
        self._gate = HybridGate(policy)
        self._metrics = metrics
        self._clock = clock
        self.saved = 0

    async def analyse(self, jpeg: bytes) -> ModelAnswer:
        """Local first; the model when the gate says so (or when the local reading failed)."""
        try:
            reading = await self._local.analyse(jpeg)
        except VisionError:
            return await self._model.analyse(jpeg)
        local = json.loads(reading.text)
        now = self._clock()
        reason = self._gate.needs_model(local["topic"], local["extractedText"], now)
        if reason is None:
            self.saved += 1
            if self._metrics is not None:
                self._metrics.model_calls_saved.inc()
            answer = self._gate.reused()
            kept = json.loads(answer.text) | {"extractedText": local["extractedText"]}
            return ModelAnswer(json.dumps(kept), answer.source, answer.confidence)
        answer = await self._model.analyse(jpeg)
        self._gate.called(local["topic"], local["extractedText"], now, answer)
        return answer

    async def close(self) -> None:
        """Close both analysers."""
        await self._local.close()
        await self._model.close()
