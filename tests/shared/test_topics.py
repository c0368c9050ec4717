"""The topic taxonomy's name mapping."""

from __future__ import annotations

import pytest

from shared.topics import MAX_TOPIC_LENGTH, canonical_topic


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "Unknown"),
        ("", "Unknown"),
        ("  \t ", "Unknown"),
        ("biology", "Biology"),
        ("Maths", "Math"),
        ("MATHEMATICS", "Math"),
        ("  Computer   science ", "Computer Science"),
        ("null", "Unknown"),
        ("Astronomy", "Astronomy"),
    ],
)
def test_canonical_topic(raw: str | None, expected: str) -> None:
    """Case, aliases, blanks and extra spaces map onto one name."""
    assert canonical_topic(raw) == expected


def test_overlong_topic_is_cut() -> None:
    """A runaway model answer cannot make a topic name of any length."""
    assert len(canonical_topic("x" * 500)) == MAX_TOPIC_LENGTH
