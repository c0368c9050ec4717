"""Topic from text: a weighted word and phrase lexicon per topic (data in `lexicon.toml`).

Pure functions over strings; no I/O beyond reading the lexicon once.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
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
    """Lowercase, compatibility forms folded, runs of whitespace made single spaces.

    NFKC because the OCR models read equations in full-width forms (U+FF1D for `=`, U+FF08
    for `(`), which no lexicon term written in ASCII would match; OCR breaks lines anywhere.
    """
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


#: Terms at least this long also count inside run-together words (see `_found`).
SQUASHED_MIN = 5


def squash(text: str) -> str:
    """Letters and digits only: OCR often drops the spaces between words."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", text).lower())


def _found(term: str, text: str, squashed: str) -> bool:
    # Whole words ("cell" is not in "cellar"); terms may hold spaces and symbols. Long terms
    # also match inside run-together OCR text ("takesplaceinthechloroplasts"), where a chance
    # hit is unlikely; short ones would match everywhere.
    if re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None:
        return True
    bare = squash(term)
    return len(bare) >= SQUASHED_MIN and bare in squashed


def _score(weights: Mapping[str, float], text: str, squashed: str) -> float:
    return sum(weight for term, weight in weights.items() if _found(term, text, squashed))


def classify(text: str, lexicon: Lexicon) -> Verdict:
    """Score every topic over `text`; the best one wins if it scores enough."""
    clean = normalise_text(text)
    squashed = squash(text)
    scores = {topic: _score(weights, clean, squashed) for topic, weights in lexicon.topics.items()}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    best, best_score = ranked[0] if ranked else (UNKNOWN, 0.0)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    distraction = _score(lexicon.distraction, clean, squashed)
    distracted = distraction >= MIN_DISTRACTION and distraction > best_score
    if best_score < MIN_SCORE or distracted:
        return Verdict(UNKNOWN, None, 0.0, False, distracted, scores)
    # Sure when the winner scores well and clearly ahead of the next topic.
    confidence = round(min(1.0, best_score / 12) * (best_score / (best_score + runner_up)), 2)
    subtopic = None
    best_hits = 0
    for name, terms in lexicon.subtopics.get(best, {}).items():
        hits = sum(_found(term, clean, squashed) for term in terms)
        if hits > best_hits:
            subtopic, best_hits = name, hits
    return Verdict(best, subtopic, confidence, True, False, scores)


def _trigrams(text: str) -> set[str]:
    bare = squash(text)
    return {bare[i : i + 3] for i in range(max(0, len(bare) - 2))}


def text_distance(a: str, b: str) -> float:
    """How different two readings are: 1 - Jaccard similarity of their letter trigrams.

    Trigrams rather than words, because OCR runs words together unpredictably; a misread letter
    changes only a few trigrams.
    """
    left, right = _trigrams(a), _trigrams(b)
    if not left and not right:
        return 0.0
    return 1.0 - len(left & right) / len(left | right)
