"""On-device cards: cloze deletions of the subject terms in a page's key sentences.

The terms are the on-device analyser's lexicon (`edge/vision/lexicon.toml`): a sentence that
holds the page's subject terms is a key sentence, and its weightiest term is the blank.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from edge.memory.port import CardDraft, Page
from edge.threads import lower_priority
from edge.vision.classify import Lexicon, Reading, load_lexicon

BLANK = "_____"
#: A key sentence has this many words at least (shorter is a heading) and at most (longer is
#: OCR that ran a paragraph together).
MIN_WORDS, MAX_WORDS = 5, 60
#: Longest key sentence, in characters (a question must fit the card table's bounds).
MAX_SENTENCE_CHARS = 400
#: Terms shorter than this ("ph", "x") would blank letters, not knowledge.
MIN_TERM_CHARS = 3
#: Cards from one page at most: a session's cards should cover its pages, not one page.
PER_PAGE = 2

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n\s*")


@dataclass(frozen=True)
class _Candidate:
    rank: int  # 0 for a page's best sentence, 1 for its next
    score: float
    order: int
    draft: CardDraft


def sentences(text: str) -> list[str]:
    """The sentences of a page's text, compatibility forms folded, spacing made single."""
    folded = unicodedata.normalize("NFKC", text)
    found = (" ".join(part.split()) for part in _SENTENCE_END.split(folded))
    return [
        s
        for s in found
        if MIN_WORDS <= len(s.split()) <= MAX_WORDS and len(s) <= MAX_SENTENCE_CHARS
    ]


def _term_pattern(term: str) -> re.Pattern[str]:
    # Whole words, any spacing between a phrase's words, a plural ending allowed.
    words = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(rf"(?<![\w]){words}(?:e?s)?(?![\w])", re.IGNORECASE)


def topic_terms(lexicon: Lexicon, topic: str) -> Mapping[str, float]:
    """The terms of `topic` with their weights; every topic's when the lexicon lacks it."""
    if topic in lexicon.topics:
        return lexicon.topics[topic].terms
    merged: dict[str, float] = {}
    for cues in lexicon.topics.values():
        for term, weight in cues.terms.items():
            merged[term] = max(weight, merged.get(term, 0.0))
    return merged


def _page_candidates(page: Page, lexicon: Lexicon) -> list[tuple[float, CardDraft]]:
    """The page's key sentences as clozes, best first."""
    reading = Reading(page.text)
    found = {
        term: weight
        for term, weight in topic_terms(lexicon, page.topic).items()
        if len(term) >= MIN_TERM_CHARS and reading.has(term)
    }
    made = []
    for sentence in sentences(page.text):
        hits = []
        for term, weight in found.items():
            pattern = _term_pattern(term)
            match = pattern.search(sentence)
            if match is not None:
                hits.append((weight, len(term), pattern, match.group(0)))
        if not hits:
            continue
        weight, _, pattern, answer = max(hits, key=lambda hit: (hit[0], hit[1]))
        # Every mention blanked: the answer must not stand later in its own question.
        question = pattern.sub(BLANK, sentence)
        draft = CardDraft(page.event_id, page.topic, page.subtopic, "cloze", question, answer)
        made.append((sum(hit[0] for hit in hits), draft))
    made.sort(key=lambda item: -item[0])
    return made[:PER_PAGE]


def cloze_cards(pages: Sequence[Page], lexicon: Lexicon, limit: int) -> list[CardDraft]:
    """At most `limit` clozes: each page's best sentence first, the richest of those first."""
    candidates = [
        _Candidate(rank, score, order, draft)
        for order, page in enumerate(pages)
        for rank, (score, draft) in enumerate(_page_candidates(page, lexicon))
    ]
    chosen = sorted(candidates, key=lambda c: (c.rank, -c.score, c.order))[:limit]
    return [c.draft for c in sorted(chosen, key=lambda c: (c.order, c.rank))]


class ClozeMaker:
    """The card maker without a model: nothing leaves the computer."""

    name = "on-device"

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self._lexicon = lexicon
        # One niced thread of its own, as the OCR has: a session's cards yield the CPU to the
        # frames and the voice relay arriving meanwhile.
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="studylens-cards", initializer=lower_priority
        )

    async def make(self, pages: Sequence[Page], limit: int) -> list[CardDraft]:
        """Clozes from the pages, worked out on the card thread, off the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._make, pages, limit)

    def _make(self, pages: Sequence[Page], limit: int) -> list[CardDraft]:
        if self._lexicon is None:
            self._lexicon = load_lexicon()
        return cloze_cards(pages, self._lexicon, limit)

    async def close(self) -> None:
        """Stop the card thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
