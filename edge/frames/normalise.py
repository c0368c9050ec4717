"""Turning the model's JSON text into a clean `FrameAnalysis`."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from edge.vision.port import ModelBadOutput
from shared.analysis import FrameAnalysis
from shared.topics import normalise_topic

log = logging.getLogger(__name__)

#: Longest subtopic kept; a model that rambles is cut, not rejected.
MAX_SUBTOPIC_LENGTH = 80


class _LooseAnswer(BaseModel):
    """What we accept from a model: lax types ("true", 1), but every field present."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    is_studying: bool
    is_active: bool
    is_distracted: bool
    topic: str | None
    subtopic: str | None
    extracted_text: str | None


def normalise(text: str, topics: Sequence[str], max_text_chars: int) -> FrameAnalysis:
    """Parse and clean a model answer; anything that is not the schema is `ModelBadOutput`."""
    try:
        loose = _LooseAnswer.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()
        )
        raise ModelBadOutput(f"The model's answer does not match the schema ({problems}).") from exc
    subtopic = " ".join((loose.subtopic or "").split())[:MAX_SUBTOPIC_LENGTH] or None
    return FrameAnalysis(
        is_studying=loose.is_studying,
        is_active=loose.is_active,
        is_distracted=loose.is_distracted,
        topic=normalise_topic(loose.topic, topics),
        subtopic=subtopic,
        extracted_text=(loose.extracted_text or "").strip()[:max_text_chars].rstrip(),
    )


def normalise_confidence(value: object) -> float | None:
    """The analyser's confidence as it is stored: a number in [0, 1], else None (unknown).

    A value outside that is an analyser's bug; it costs the frame its confidence, never the
    frame (the event and its count are one transaction, and the column refuses such a value).
    """
    if value is None:
        return None
    # bool is an int to Python, but True is no confidence.
    if isinstance(value, bool) or not isinstance(value, int | float):
        log.warning("analyser gave a confidence that is not a number (%s)", type(value).__name__)
        return None
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        log.warning("analyser gave a confidence outside 0..1 (%r)", number)
        return None
    return number
