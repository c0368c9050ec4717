"""The topic taxonomy: the subjects StudyLens tracks time for, and how loose names map onto them."""

from __future__ import annotations

UNKNOWN = "Unknown"

#: Subjects every install knows; others the model names are kept under their own (trimmed) name.
KNOWN_TOPICS: tuple[str, ...] = (
    "Biology",
    "Chemistry",
    "Physics",
    "Math",
    "English",
    "History",
    "Geography",
    "Computer Science",
    "Economics",
    "Languages",
    "Art",
    "Music",
    UNKNOWN,
)

_ALIASES: dict[str, str] = {
    "maths": "Math",
    "mathematics": "Math",
    "bio": "Biology",
    "chem": "Chemistry",
    "cs": "Computer Science",
    "programming": "Computer Science",
    "literature": "English",
    "none": UNKNOWN,
    "null": UNKNOWN,
    "n/a": UNKNOWN,
}

_BY_LOWER = {name.lower(): name for name in KNOWN_TOPICS} | _ALIASES

#: Longest topic name kept; longer model output is cut, not rejected.
MAX_TOPIC_LENGTH = 64


def canonical_topic(raw: str | None) -> str:
    """Map a topic as reported (any case, alias, blank or missing) onto its canonical name."""
    if raw is None:
        return UNKNOWN
    cleaned = " ".join(raw.split())[:MAX_TOPIC_LENGTH]
    if not cleaned:
        return UNKNOWN
    return _BY_LOWER.get(cleaned.lower(), cleaned)
