"""Topic from text: a weighted word and phrase lexicon per topic (data in `lexicon.toml`).

Pure functions over strings; no I/O beyond reading the lexicon once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

from shared.topics import UNKNOWN

#: Least score a topic needs before the text counts as study material of it.
MIN_SCORE = 4.0
#: Least distraction score (and more than the best topic's) to call a view distracted.
MIN_DISTRACTION = 5.0


@dataclass(frozen=True)
class Lexicon:
    """Weights per term for each topic, subtopic terms, and distraction terms."""

    topics: Mapping[str, Mapping[str, float]]
    subtopics: Mapping[str, Mapping[str, tuple[str, ...]]]
    distraction: Mapping[str, float]


@dataclass(frozen=True)
class Verdict:
    """What the text says: topic (or Unknown), subtopic, how sure, and whether distracted."""

    topic: str
    subtopic: str | None
    confidence: float
    is_studying: bool
    is_distracted: bool
    scores: Mapping[str, float]


def load_lexicon(text: str | None = None) -> Lexicon:
    """Parse a lexicon (default: the packaged `lexicon.toml`)."""
    if text is None:
        text = files("edge.vision").joinpath("lexicon.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    topics = {
        name: {term.lower(): float(weight) for term, weight in entry.get("words", {}).items()}
        for name, entry in data.get("topics", {}).items()
    }
    subtopics = {
        name: {
            sub: tuple(t.lower() for t in terms)
            for sub, terms in entry.get("subtopics", {}).items()
        }
        for name, entry in data.get("topics", {}).items()
    }
    distraction = {
        term.lower(): float(weight)
        for term, weight in data.get("distraction", {}).get("words", {}).items()
    }
    return Lexicon(topics, subtopics, distraction)


def normalise_text(text: str) -> str:
    """Lowercase, with runs of whitespace made single spaces (OCR breaks lines anywhere)."""
    return " ".join(text.lower().split())


def _found(term: str, text: str) -> bool:
    # Whole words only ("cell" is not in "cellar"); terms may hold spaces and symbols.
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None


def _score(weights: Mapping[str, float], text: str) -> float:
    return sum(weight for term, weight in weights.items() if _found(term, text))


def classify(text: str, lexicon: Lexicon) -> Verdict:
    """Score every topic over `text`; the best one wins if it scores enough."""
    clean = normalise_text(text)
    scores = {topic: _score(weights, clean) for topic, weights in lexicon.topics.items()}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    best, best_score = ranked[0] if ranked else (UNKNOWN, 0.0)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    distraction = _score(lexicon.distraction, clean)
    distracted = distraction >= MIN_DISTRACTION and distraction > best_score
    if best_score < MIN_SCORE or distracted:
        return Verdict(UNKNOWN, None, 0.0, False, distracted, scores)
    # Sure when the winner scores well and clearly ahead of the next topic.
    confidence = round(min(1.0, best_score / 12) * (best_score / (best_score + runner_up)), 2)
    subtopic = None
    best_hits = 0
    for name, terms in lexicon.subtopics.get(best, {}).items():
        hits = sum(_found(term, clean) for term in terms)
        if hits > best_hits:
            subtopic, best_hits = name, hits
    return Verdict(best, subtopic, confidence, True, False, scores)


def text_distance(a: str, b: str) -> float:
    """How different two readings are: 1 - Jaccard similarity of their word sets."""
    left, right = set(normalise_text(a).split()), set(normalise_text(b).split())
    if not left and not right:
        return 0.0
    return 1.0 - len(left & right) / len(left | right)
