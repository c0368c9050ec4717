"""Hybrid analysis: read every frame on the device, ask the model only when it adds something.

The local reading decides: a new topic, text substantially different from what the model last
saw, or too many frames or seconds since the last call mean a model call; otherwise the model's
last analysis stands (the local text keeps `extractedText` current). Calls saved are counted.
Each session has its own gate: one session's answer never stands for another's frame.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
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
    """The vision port that puts the on-device reading in front of the model, per session."""

    #: Sessions whose gate is kept; one student runs one session at a time, so a few is plenty,
    #: and a session that ended without being announced is dropped past them.
    MAX_SESSIONS = 32

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
        self._policy = policy
        self._gates: OrderedDict[str | None, HybridGate] = OrderedDict()
        self._metrics = metrics
        self._clock = clock
        self.saved = 0

    def gate(self, session: str | None) -> HybridGate:
        """The session's gate, made on its first frame; the longest-unused go past a few."""
        gate = self._gates.pop(session, None)
        if gate is None:
            gate = HybridGate(self._policy)
        self._gates[session] = gate
        while len(self._gates) > self.MAX_SESSIONS:
            self._gates.popitem(last=False)
        return gate

    def end_session(self, session: str) -> None:
        """Drop an ended session's gate."""
        self._gates.pop(session, None)

    async def analyse(self, jpeg: bytes, *, session: str | None = None) -> ModelAnswer:
        """Local first; the model when the session's gate says so (or the local reading failed)."""
        try:
            reading = await self._local.analyse(jpeg)
        except VisionError:
            return await self._model.analyse(jpeg)
        local = json.loads(reading.text)
        now = self._clock()
        gate = self.gate(session)
        reason = gate.needs_model(local["topic"], local["extractedText"], now)
        if reason is None:
            self.saved += 1
            if self._metrics is not None:
                self._metrics.model_calls_saved.inc()
            answer = gate.reused()
            kept = json.loads(answer.text) | {"extractedText": local["extractedText"]}
            return ModelAnswer(json.dumps(kept), answer.source, answer.confidence)
        answer = await self._model.analyse(jpeg)
        # The gate taken before the call: a session that ended while the model ran is not
        # brought back by its last answer.
        gate.called(local["topic"], local["extractedText"], now, answer)
        return answer

    async def close(self) -> None:
        """Close both analysers."""
        await self._local.close()
        await self._model.close()
