"""Hybrid analysis: when the on-device reading is enough and when the model is asked."""

from __future__ import annotations

import json
from typing import Any

from edge.settings import HybridSettings
from edge.vision.hybrid import HybridGate, HybridVision
from edge.vision.local import LocalVision
from edge.vision.port import ModelAnswer
from tests.fakes.openai_peer import DEFAULT_ANALYSIS, FakeOpenAI

POLICY = HybridSettings(max_frames=5, max_seconds=60, text_change=0.5)
ANSWER = ModelAnswer('{"topic": "Biology"}', "gpt-4.1")
PAGE = "mitosis prophase metaphase anaphase telophase chromosome"


def test_the_first_frame_asks_the_model() -> None:
    """Nothing to reuse yet."""
    assert HybridGate(POLICY).needs_model("Biology", PAGE, 0.0) == "first"


def test_the_same_page_reuses_the_answer() -> None:
    """Same topic, same text, soon after: no call."""
    gate = HybridGate(POLICY)
    gate.called("Biology", PAGE, 0.0, ANSWER)
    assert gate.needs_model("Biology", PAGE, 3.0) is None
    assert gate.reused() is ANSWER


def test_a_new_topic_asks_the_model() -> None:
    """The local reading moved to another topic."""
    gate = HybridGate(POLICY)
    gate.called("Biology", PAGE, 0.0, ANSWER)
    assert gate.needs_model("Math", PAGE, 3.0) == "topic"


def test_a_new_page_asks_the_model() -> None:
    """Mostly different words on the page."""
    gate = HybridGate(POLICY)
    gate.called("Biology", PAGE, 0.0, ANSWER)
    assert gate.needs_model("Biology", "dna rna gene protein enzyme", 3.0) == "text"


def test_small_ocr_noise_does_not_ask() -> None:
    """One word read differently is the same page."""
    gate = HybridGate(POLICY)
    gate.called("Biology", PAGE, 0.0, ANSWER)
    noisy = PAGE.replace("anaphase", "anaphasc")
    assert gate.needs_model("Biology", noisy, 3.0) is None


def test_every_nth_frame_asks_anyway() -> None:
    """After max_frames reuses the model is asked again."""
    gate = HybridGate(POLICY)
    gate.called("Biology", PAGE, 0.0, ANSWER)
    for _ in range(4):
        assert gate.needs_model("Biology", PAGE, 1.0) is None
        gate.reused()
    assert gate.needs_model("Biology", PAGE, 1.0) == "frames"


def test_after_max_seconds_asks_anyway() -> None:
    """A long stretch on one page is checked again now and then."""
    gate = HybridGate(POLICY)
    gate.called("Biology", PAGE, 0.0, ANSWER)
    assert gate.needs_model("Biology", PAGE, 61.0) == "seconds"


class ScriptedReading(LocalVision):
    """The on-device reader with scripted OCR text (the real OCR is tested on its own)."""

    def __init__(self, texts: list[str], tmp: Any) -> None:
        super().__init__(cache_dir=tmp, max_text_chars=300)
        self.texts = texts

    def read_text(self, jpeg: bytes) -> str:
        """The next scripted text."""
        return self.texts.pop(0)


async def test_hybrid_calls_the_model_only_on_change(
    openai_peer: FakeOpenAI, tmp_path: Any
) -> None:
    """Three frames of one page and one of another: two model calls, two saved."""
    from openai import AsyncOpenAI

    from edge.vision.openai_vision import OpenAIVision

    client = AsyncOpenAI(api_key="sk-test", base_url=openai_peer.base_url, max_retries=0)
    model = OpenAIVision(
        client, model="gpt-4.1", detail="low", topics=["Biology", "Math"], max_text_chars=300
    )
    other = "solve the quadratic equation derivative integral"
    local = ScriptedReading([PAGE, PAGE, PAGE, other], tmp_path)
    hybrid = HybridVision(local, model, POLICY, clock=lambda: 0.0)
    try:
        answers = [await hybrid.analyse(b"jpeg") for _ in range(4)]
    finally:
        await hybrid.close()
    assert len(openai_peer.requests) == 2
    assert hybrid.saved == 2
    assert [a.source for a in answers] == ["gpt-4.1-2025-04-14"] * 4
    assert json.loads(answers[1].text)["extractedText"] == PAGE


# --- one gate per session ---------------------------------------------------------------------


class CountingModel:
    """The model, answering each call with an analysis of its own (`model-1`, `model-2`, ...)."""

    def __init__(self) -> None:
        self.calls = 0

    async def analyse(self, jpeg: bytes) -> ModelAnswer:
        """A fresh answer, numbered by its call."""
        self.calls += 1
        return ModelAnswer(json.dumps(DEFAULT_ANALYSIS), f"model-{self.calls}")

    async def close(self) -> None:
        """Nothing to release."""


def hybrid_of(texts: list[str], tmp: Any) -> tuple[HybridVision, CountingModel]:
    """A hybrid analyser reading `texts` in turn, in front of a counting model."""
    model = CountingModel()
    return HybridVision(ScriptedReading(texts, tmp), model, POLICY, clock=lambda: 0.0), model


async def test_interleaved_sessions_each_get_their_own_gate(tmp_path: Any) -> None:
    """B's first frame asks the model though A just saw the same text; each reuses its own."""
    hybrid, model = hybrid_of([PAGE] * 4, tmp_path)
    try:
        a1 = await hybrid.analyse(b"a", session="A")
        b1 = await hybrid.analyse(b"b", session="B")
        a2 = await hybrid.analyse(b"a", session="A")
        b2 = await hybrid.analyse(b"b", session="B")
    finally:
        await hybrid.close()
    assert model.calls == 2
    assert [a.source for a in (a1, b1, a2, b2)] == ["model-1", "model-2", "model-1", "model-2"]
    assert hybrid.saved == 2


async def test_a_new_sessions_gate_has_seen_nothing(tmp_path: Any) -> None:
    """The gate of a session that has seen nothing says "first", whatever another one saw."""
    hybrid, _ = hybrid_of([], tmp_path)
    try:
        hybrid.gate("A").called("Biology", PAGE, 0.0, ANSWER)
        assert hybrid.gate("A").needs_model("Biology", PAGE, 1.0) is None
        assert hybrid.gate("B").needs_model("Biology", PAGE, 1.0) == "first"
    finally:
        await hybrid.close()


async def test_an_ended_sessions_gate_is_dropped(tmp_path: Any) -> None:
    """After `end_session`, the same session id starts over at the model."""
    hybrid, model = hybrid_of([PAGE] * 3, tmp_path)
    try:
        await hybrid.analyse(b"a", session="A")
        await hybrid.analyse(b"a", session="A")
        assert model.calls == 1
        hybrid.end_session("A")
        hybrid.end_session("never seen")  # no error for a session without a gate
        answer = await hybrid.analyse(b"a", session="A")
    finally:
        await hybrid.close()
    assert (model.calls, answer.source) == (2, "model-2")


async def test_gates_are_kept_for_a_bounded_number_of_sessions(tmp_path: Any) -> None:
    """Past MAX_SESSIONS the longest-unused session's gate goes; the recent ones stay."""
    count = HybridVision.MAX_SESSIONS + 1
    hybrid, model = hybrid_of([PAGE] * (count + 2), tmp_path)
    try:
        for n in range(count):
            await hybrid.analyse(b"x", session=f"s{n}")
        assert model.calls == count
        await hybrid.analyse(b"x", session=f"s{count - 1}")  # the newest: still its gate
        assert model.calls == count
        await hybrid.analyse(b"x", session="s0")  # the oldest: forgotten, asks again
        assert model.calls == count + 1
    finally:
        await hybrid.close()
