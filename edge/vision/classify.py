"""Topic from text: a weighted word and phrase lexicon per topic (data in `lexicon.toml`).

Pure functions over strings; no I/O beyond reading the lexicon once.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from itertools import islice
from typing import Any

from shared.topics import UNKNOWN

#: Default least score a topic needs before the text counts as study material of it.
MIN_SCORE = 4.0
#: Default least distraction score (and more than the best topic's) to call a view distracted.
MIN_DISTRACTION = 5.0
#: Default weight of each tier of terms.
TIERS: Mapping[str, float] = {"strong": 4.0, "clear": 2.5, "weak": 1.0}
#: A shape counts at most this many of its matches: a page of sums is not a hundred times math.
MAX_SHAPE_HITS = 3


@dataclass(frozen=True)
class Cues:
    """What points to one topic (or to distraction): terms, word patterns, text shapes."""

    terms: Mapping[str, float] = field(default_factory=dict)
    patterns: tuple[tuple[re.Pattern[str], float], ...] = ()
    shapes: tuple[tuple[re.Pattern[str], float], ...] = ()
    formulas: float = 0.0


@dataclass(frozen=True)
class Lexicon:
    """Cues per topic, subtopic terms, distraction cues and the thresholds."""

    topics: Mapping[str, Cues]
    subtopics: Mapping[str, Mapping[str, tuple[str, ...]]]
    distraction: Cues
    min_score: float = MIN_SCORE
    min_distraction: float = MIN_DISTRACTION
    per_word: float = 0.0
    dense_words: int = 100

    def needed(self, words: int) -> float:
        """The score a topic needs in a text of `words` words.

        Study text is dense with its subject's terms; ordinary prose (a feed, a chat, a novel's
        page) names some in passing. Longer text must therefore score more, up to
        `dense_words` words, beyond which a page's distinct terms stop growing with it.
        """
        return max(self.min_score, self.per_word * min(words, self.dense_words))


@dataclass(frozen=True)
class Verdict:
    """What the text says: topic (or Unknown), subtopic, how sure, and whether distracted."""

    topic: str
    subtopic: str | None
    confidence: float
    is_studying: bool
    is_distracted: bool
    scores: Mapping[str, float]


def _cues(entry: Mapping[str, Any], tiers: Mapping[str, float]) -> Cues:
    terms: dict[str, float] = {}
    for tier, weight in tiers.items():
        for term in entry.get(tier, []):
            terms.setdefault(normalise_text(term), float(weight))
    for term, weight in entry.get("words", {}).items():
        terms[normalise_text(term)] = float(weight)
    patterns = tuple(
        (re.compile(pattern), float(weight))
        for pattern, weight in entry.get("patterns", {}).items()
    )
    shapes = tuple(
        (re.compile(shape), float(weight)) for shape, weight in entry.get("shapes", {}).items()
    )
    return Cues(terms, patterns, shapes, float(entry.get("formulas", 0.0)))


def load_lexicon(text: str | None = None) -> Lexicon:
    """Parse a lexicon (default: the packaged `lexicon.toml`)."""
    if text is None:
        text = files("edge.vision").joinpath("lexicon.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tiers = {**TIERS, **data.get("tiers", {})}
    entries = data.get("topics", {})
    topics = {name: _cues(entry, tiers) for name, entry in entries.items()}
    subtopics = {
        name: {
            sub: tuple(normalise_text(t) for t in terms)
            for sub, terms in entry.get("subtopics", {}).items()
        }
        for name, entry in entries.items()
    }
    thresholds = data.get("thresholds", {})
    return Lexicon(
        topics,
        subtopics,
        _cues(data.get("distraction", {}), tiers),
        float(thresholds.get("topic", MIN_SCORE)),
        float(thresholds.get("distraction", MIN_DISTRACTION)),
        float(thresholds.get("per_word", 0.0)),
        int(thresholds.get("dense_words", 100)),
    )


def normalise_text(text: str) -> str:
    """Lowercase, compatibility forms folded, runs of whitespace made single spaces.

    NFKC because the OCR models read equations in full-width forms (U+FF1D for `=`, U+FF08
    for `(`), which no lexicon term written in ASCII would match; OCR breaks lines anywhere.
    """
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


#: Words at least this long also match a term one OCR error away ("chromosone"), at
#: `FUZZY_WEIGHT` of the term's weight; shorter words would match other words.
FUZZY_MIN = 7
FUZZY_WEIGHT = 0.75

#: Terms at least this long also count inside run-together words (see `Reading.has`).
SQUASHED_MIN = 6
#: A run of letters this long is words that OCR ran together, not one word: few English words
#: are this long, so a term inside it is seldom a chance part of a longer word ("education").
RUN_TOGETHER = 12


def squash(text: str) -> str:
    """Letters and digits only: OCR often drops the spaces between words."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", text).lower())


ELEMENTS = frozenset(
    """
    H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As
    Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb
    Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk
    Cf Es Fm Md No Lr
    """.split()  # noqa: SIM905 - the periodic table reads better as a block
)
_FORMULA = re.compile(r"(?<![A-Za-z])(?:\(?[A-Z][a-z]?\d{0,3}\)?\d{0,3}){2,}(?![A-Za-z0-9])")
_SYMBOL = re.compile(r"[A-Z][a-z]?")


def is_formula(token: str) -> bool:
    """Whether `token` reads as a chemical formula (H2O, NaCl, C2H5OH; not OK, TV or BBC).

    Element symbols only, at least two, and a count or a two-letter symbol.
    """
    symbols = _SYMBOL.findall(token)
    return (
        len(symbols) >= 2
        and all(symbol in ELEMENTS for symbol in symbols)
        and (any(c.isdigit() for c in token) or any(len(symbol) == 2 for symbol in symbols))
    )


def formulas(text: str) -> set[str]:
    """The distinct chemical formulas in `text` (case as written: `co` is not CO)."""
    return {m.group(0) for m in _FORMULA.finditer(text) if is_formula(m.group(0))}


_WORD = re.compile(r"[a-z][a-z0-9]*(?:['-][a-z0-9]+)*")


def _singulars(word: str) -> Iterator[str]:
    # Lexicon words are singular; page text has "cells", "bacteria", "nuclei", "larvae".
    yield word
    if len(word) > 3:
        if word.endswith("ies"):
            yield word[:-3] + "y"
        if word.endswith("es"):
            yield word[:-2]
        if word.endswith("s") and not word.endswith("ss"):
            yield word[:-1]
        if word.endswith("i"):
            yield word[:-1] + "us"
        if word.endswith("ae"):
            yield word[:-1]
        if word.endswith("a"):
            yield word[:-1] + "um"


def deletions(word: str) -> frozenset[str]:
    """`word` with one letter dropped, each way: two words one edit apart share one of these."""
    return frozenset(word[:i] + word[i + 1 :] for i in range(len(word)))


# Every frame asks about the same lexicon terms: their forms are worked out once each.
_term_deletions = cache(deletions)
_term_bare = cache(squash)


class Reading:
    """One text made ready for matching: its clean form, its words, its run-together form."""

    def __init__(self, text: str) -> None:
        self.clean = normalise_text(text)
        self.folded = unicodedata.normalize("NFKC", text)
        # Only the runs too long to be one word: "absolute" must not hold "solute".
        runs = re.split(r"[^a-z0-9]+", self.folded.lower())
        self.squashed = " ".join(run for run in runs if len(run) >= RUN_TOGETHER)
        self.runs = set(runs)
        every = _WORD.findall(self.clean)
        self.count = len(every)
        self.words = set(every)
        self.stems = {stem for word in self.words for stem in _singulars(word)}
        long = {stem for stem in self.stems if len(stem) >= FUZZY_MIN - 1}
        self.variants = long | {v for stem in long for v in deletions(stem)}

    def has(self, term: str) -> bool:
        """Whether `term` is in the text: a word (or its plural), a phrase, or run together."""
        if term in self.stems:
            return True
        # Phrases and terms with symbols ("f(x)", "e.g."), as whole words: "cell" is not in
        # "cellar". Long terms also match inside run-together OCR text
        # ("takesplaceinthechloroplasts"), where a chance hit is unlikely.
        if not term.isalpha() and re.search(
            rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", self.clean
        ):
            return True
        bare = _term_bare(term)
        if " " in term and bare in self.runs:
            return True  # a phrase run together ("ESSAYPLAN") is no English word
        return len(bare) >= SQUASHED_MIN and bare in self.squashed

    def near(self, term: str) -> bool:
        """Whether a word of the text is one letter added, dropped or changed from `term`."""
        if len(term) < FUZZY_MIN or not term.isalpha():
            return False
        return term in self.variants or not self.variants.isdisjoint(_term_deletions(term))

    def score(self, cues: Cues) -> float:
        """The sum of the cues found.

        Each term once, each word a pattern fits once, each shape as often as it shows (up to
        `MAX_SHAPE_HITS`), and the distinct formulas (up to as many).
        """
        found = {term for term in cues.terms if self.has(term)}
        total = sum(cues.terms[term] for term in found)
        total += FUZZY_WEIGHT * sum(
            weight for term, weight in cues.terms.items() if term not in found and self.near(term)
        )
        for pattern, weight in cues.patterns:
            fits = {w for w in self.words if w not in found and pattern.fullmatch(w)}
            total += weight * len(fits)
        for shape, weight in cues.shapes:
            hits = len(list(islice(shape.finditer(self.folded), MAX_SHAPE_HITS)))
            total += weight * hits
        if cues.formulas:
            total += cues.formulas * min(MAX_SHAPE_HITS, len(formulas(self.folded)))
        return total


def classify(text: str, lexicon: Lexicon) -> Verdict:
    """Score every topic over `text`; the best one wins if it scores enough."""
    reading = Reading(text)
    scores = {topic: reading.score(cues) for topic, cues in lexicon.topics.items()}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    best, best_score = ranked[0] if ranked else (UNKNOWN, 0.0)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    distraction = reading.score(lexicon.distraction)
    distracted = distraction >= lexicon.min_distraction and distraction > best_score
    if best_score < lexicon.needed(reading.count) or distracted:
        return Verdict(UNKNOWN, None, 0.0, False, distracted, scores)
    # Sure when the winner scores well and clearly ahead of the next topic.
    confidence = round(min(1.0, best_score / 12) * (best_score / (best_score + runner_up)), 2)
    subtopic = None
    best_hits = 0
    for name, terms in lexicon.subtopics.get(best, {}).items():
        hits = sum(reading.has(term) for term in terms)
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
