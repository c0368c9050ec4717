"""Turning the model's JSON text into a clean FrameAnalysis: topics, booleans, text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.frames.normalise import MAX_SUBTOPIC_LENGTH, normalise
from edge.vision.port import ModelBadOutput
from shared.analysis import FrameAnalysis
from shared.topics import STUDY_TOPICS

GOOD: dict[str, Any] = {
    "isStudying": True,
    "isActive": False,
    "isDistracted": False,
    "topic": "Biology",
    "subtopic": "Cell division",
    "extractedText": "Mitosis has four phases.",
}


def answer(
    max_chars: int = 300, topics: tuple[str, ...] = STUDY_TOPICS, **changes: Any
) -> FrameAnalysis:
    """Normalise the good answer with some fields changed."""
    return normalise(json.dumps({**GOOD, **changes}), topics, max_chars)


def test_good_answer_passes_through() -> None:
    """A clean answer comes out field for field."""
    assert answer() == FrameAnalysis(
        is_studying=True,
        is_active=False,
        is_distracted=False,
        topic="Biology",
        subtopic="Cell division",
        extracted_text="Mitosis has four phases.",
    )


# --- topics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("biology", "Biology"),
        ("BIOLOGY", "Biology"),
        ("  Biology  ", "Biology"),
        ("Maths", "Math"),
        ("mathematics", "Math"),
        ("chem", "Chemistry"),
        ("Computer   Science", "Computer Science"),
        ("Literature", "English"),
        ("Astrology", "Other"),
        ("other", "Other"),
        ("Unknown", "Unknown"),
        ("none", "Unknown"),
        ("N/A", "Unknown"),
        (None, "Unknown"),
        ("", "Unknown"),
        ("   ", "Unknown"),
    ],
)
def test_topic_is_mapped_onto_the_list(raw: str | None, expected: str) -> None:
    """Case, spacing and synonyms map onto a listed topic; unknown is Other, none is Unknown."""
    assert answer(topic=raw).topic == expected


def test_topic_outside_a_configured_list_is_other() -> None:
    """With only Physics and Math configured, Biology is Other."""
    assert answer(topics=("Physics", "Math"), topic="Biology").topic == "Other"


def test_topic_in_a_configured_list_keeps_its_configured_spelling() -> None:
    """With a configured name "Maths", the model's "math" maps onto "Maths"."""
    assert answer(topics=("Maths", "Physics"), topic="math").topic == "Maths"


def test_custom_topic_in_a_configured_list_is_kept() -> None:
    """A topic the install added ("Latin") is recognised in any case."""
    assert answer(topics=("Latin",), topic="LATIN").topic == "Latin"


# --- booleans --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), (1, True), (0, False), (True, True)],
)
def test_booleans_are_coerced(raw: object, expected: bool) -> None:
    """Booleans sent as "true"/"false" strings or 1/0 are accepted."""
    result = answer(isStudying=raw, isActive=raw, isDistracted=raw)
    assert (result.is_studying, result.is_active, result.is_distracted) == (expected,) * 3


@pytest.mark.parametrize("raw", ["maybe", 2, None, []])
def test_non_boolean_is_bad_output(raw: object) -> None:
    """A flag that cannot be read as a boolean is ModelBadOutput."""
    with pytest.raises(ModelBadOutput):
        answer(isDistracted=raw)


# --- text ------------------------------------------------------------------------------------


def test_extracted_text_is_trimmed() -> None:
    """Whitespace around the extracted text is removed."""
    assert answer(extractedText="\n  Mitosis.  \t").extracted_text == "Mitosis."


def test_extracted_text_is_capped() -> None:
    """Extracted text longer than max chars is cut to max chars."""
    assert answer(max_chars=10, extractedText="x" * 50).extracted_text == "x" * 10


def test_extracted_text_cap_zero_drops_the_text() -> None:
    """With a cap of 0 the text is empty."""
    assert answer(max_chars=0, extractedText="Mitosis").extracted_text == ""


def test_null_extracted_text_is_empty() -> None:
    """A null extractedText becomes the empty string."""
    assert answer(extractedText=None).extracted_text == ""


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t"])
def test_blank_subtopic_is_none(raw: str | None) -> None:
    """A null or blank subtopic is None."""
    assert answer(subtopic=raw).subtopic is None


def test_subtopic_spacing_is_collapsed() -> None:
    """Runs of whitespace inside a subtopic become one space, and the ends are trimmed."""
    assert answer(subtopic="  Cell \n  division ").subtopic == "Cell division"


def test_long_subtopic_is_cut() -> None:
    """A rambling subtopic is cut to the maximum length, not rejected."""
    result = answer(subtopic="a" * (MAX_SUBTOPIC_LENGTH + 40))
    assert result.subtopic == "a" * MAX_SUBTOPIC_LENGTH


# --- not the schema --------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(GOOD))
def test_missing_field_is_bad_output(field: str) -> None:
    """An answer lacking any one field is ModelBadOutput."""
    partial = {k: v for k, v in GOOD.items() if k != field}
    with pytest.raises(ModelBadOutput):
        normalise(json.dumps(partial), STUDY_TOPICS, 300)


@pytest.mark.parametrize(
    "text",
    ['{"isStudying": true,', "not json at all", "", "```json\n{}\n```"],
    ids=["cut", "prose", "empty", "fenced"],
)
def test_non_json_is_bad_output(text: str) -> None:
    """Text that is not JSON is ModelBadOutput."""
    with pytest.raises(ModelBadOutput):
        normalise(text, STUDY_TOPICS, 300)


@pytest.mark.parametrize(
    "value", [[GOOD], "a string", 42, None], ids=["array", "str", "num", "null"]
)
def test_json_that_is_not_an_object_is_bad_output(value: object) -> None:
    """A JSON array, string, number or null is ModelBadOutput."""
    with pytest.raises(ModelBadOutput):
        normalise(json.dumps(value), STUDY_TOPICS, 300)


def test_extra_fields_are_ignored() -> None:
    """A field the schema does not name is dropped, not an error."""
    assert answer(confidence=0.9) == answer()


def test_bad_output_names_the_field() -> None:
    """The error message says which field is wrong."""
    partial = {k: v for k, v in GOOD.items() if k != "extractedText"}
    with pytest.raises(ModelBadOutput, match="extractedText"):
        normalise(json.dumps(partial), STUDY_TOPICS, 300)
