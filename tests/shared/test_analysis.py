"""The analysis JSON schema: valid for OpenAI's strict structured output, in step with the model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.analysis import FrameAnalysis, analysis_schema
from shared.topics import STUDY_TOPICS, topic_choices

FIELDS = {"isStudying", "isActive", "isDistracted", "topic", "subtopic", "extractedText"}


def objects(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every object schema inside `schema`, itself included."""
    if schema.get("type") == "object":
        yield schema
    for sub in schema.get("properties", {}).values():
        yield from objects(sub)
    if isinstance(schema.get("items"), dict):
        yield from objects(schema["items"])


def test_schema_is_a_closed_object() -> None:
    """The top level is an object that allows no additional properties."""
    schema = analysis_schema(STUDY_TOPICS)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


def test_every_property_is_required_at_every_level() -> None:
    """Strict mode: each object lists all its properties as required, and no others."""
    for obj in objects(analysis_schema(STUDY_TOPICS)):
        assert sorted(obj["required"]) == sorted(obj["properties"])
        assert obj["additionalProperties"] is False


def test_schema_has_exactly_the_analysis_fields() -> None:
    """The properties are the six analysis fields."""
    assert set(analysis_schema(STUDY_TOPICS)["properties"]) == FIELDS


def test_schema_names_match_the_wire_model() -> None:
    """The schema's property names are FrameAnalysis's camelCase aliases."""
    wire = FrameAnalysis.model_json_schema(by_alias=True)["properties"]
    assert set(analysis_schema(STUDY_TOPICS)["properties"]) == set(wire)


def test_flags_are_booleans() -> None:
    """isStudying, isActive and isDistracted are booleans."""
    properties = analysis_schema(STUDY_TOPICS)["properties"]
    assert [properties[f]["type"] for f in ("isStudying", "isActive", "isDistracted")] == [
        "boolean"
    ] * 3


def test_only_subtopic_is_nullable() -> None:
    """Null is allowed through a type union, and only for subtopic."""
    properties = analysis_schema(STUDY_TOPICS)["properties"]
    nullable = {name for name, p in properties.items() if "null" in p["type"]}
    assert nullable == {"subtopic"}
    assert properties["subtopic"]["type"] == ["string", "null"]


@pytest.mark.parametrize(
    "topics",
    [STUDY_TOPICS, ("Biology", "Math", "English", "Chemistry"), ("Latin",), ("Math", "Other")],
    ids=["default", "four", "custom", "with-other"],
)
def test_topic_enum_is_the_topic_choices(topics: tuple[str, ...]) -> None:
    """The topic is a string from the configured list, then Other and Unknown, once each."""
    topic = analysis_schema(topics)["properties"]["topic"]
    assert topic["type"] == "string"
    assert topic["enum"] == topic_choices(topics)
    assert topic["enum"][-2:] == ["Other", "Unknown"]
    assert len(topic["enum"]) == len(set(topic["enum"]))


def test_schema_uses_only_strict_mode_keywords() -> None:
    """No keyword strict structured output rejects (defaults, formats, length limits)."""
    unsupported = {"default", "format", "minLength", "maxLength", "pattern", "minimum", "maximum"}
    for obj in objects(analysis_schema(STUDY_TOPICS)):
        for prop in obj["properties"].values():
            assert not unsupported & set(prop)
