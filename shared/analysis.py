"""The analysis of one frame: the model's structured answer, and its JSON schema.

Defined once here so the prompt, the strict output schema, the normaliser and the wire response
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.topics import topic_choices


class FrameAnalysis(BaseModel):
    """What a frame shows about the student's studying."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    is_studying: bool
    is_active: bool
    is_distracted: bool
    topic: str
    subtopic: str | None
    extracted_text: str


def analysis_schema(topics: Sequence[str]) -> dict[str, Any]:
    """The strict JSON schema the model must answer in.

    OpenAI's structured-output rules: every property required, no additional properties,
    null only through a type union.
    """
    return {
        "type": "object",
        "properties": {
            "isStudying": {
                "type": "boolean",
                "description": "Study material (page, screen, notes, board) is in view.",
            },
            "isActive": {
                "type": "boolean",
                "description": "The student is working with it: writing, highlighting, solving.",
            },
            "isDistracted": {
                "type": "boolean",
                "description": "Something unrelated holds the view: phone feed, video, chat.",
            },
            "topic": {"type": "string", "enum": topic_choices(topics)},
            "subtopic": {"type": ["string", "null"], "description": "e.g. Cell division."},
            "extractedText": {"type": "string", "description": "Readable study text, verbatim."},
        },
        "required": [
            "isStudying",
            "isActive",
            "isDistracted",
            "topic",
            "subtopic",
            "extractedText",
        ],
        "additionalProperties": False,
    }
