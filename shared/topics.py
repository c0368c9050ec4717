"""The topic taxonomy: the subjects StudyLens tracks time for, and how loose names map onto them."""

from __future__ import annotations

from collections.abc import Sequence

UNKNOWN = "Unknown"
OTHER = "Other"

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
    OTHER,
    UNKNOWN,
)

#: The default list frames are sorted into (configurable per install).
STUDY_TOPICS: tuple[str, ...] = tuple(t for t in KNOWN_TOPICS if t not in (OTHER, UNKNOWN))

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


def topic_choices(allowed: Sequence[str]) -> list[str]:
    """The names a frame's topic may take: the allowed list, then Other and Unknown."""
    out: list[str] = []
    for name in [*allowed, OTHER, UNKNOWN]:
        if name.lower() not in (n.lower() for n in out):
            out.append(name)
    return out


def normalise_topic(raw: str | None, allowed: Sequence[str]) -> str:
    """Map a reported topic onto the allowed list (by name or alias), else Other or Unknown."""
    name = canonical_topic(raw)
    if name == UNKNOWN:
        return UNKNOWN
    by_canonical = {canonical_topic(t).lower(): t for t in topic_choices(allowed)}
    return by_canonical.get(name.lower(), OTHER)
