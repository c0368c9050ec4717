"""Subject text that the classifier's authors did not write, read from Debian's data packages.

- WordNet 3.0 (`wordnet-base`): glosses of the synsets whose topic-domain pointer (`;c`) names a
  domain of the subject (biology, botany, genetics...; chemistry; mathematics, statistics...;
  grammar, linguistics, literature, poetry, prosody, rhetoric), plus general vocabulary (adjectives
  with a usage example) for English vocabulary work.
- GCIDE, the public-domain Webster's 1913 (`dict-gcide`): senses labelled with a field such as
  `(Chem.)`, `(Anat.)`, `(Gram.)`, `(Pros.)`, at most as many per topic as WordNet gives.
- `fortunes`: literature quotations (English), and everyday lines (people, wisdom, love, food,
  sports) as the chatter of feeds, chats and posters.

Each pool is shuffled with a seed and cut in two halves, `dev` and `heldout`, so that pages of the
held-out part draw on entries that no dev page shows.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

TOPICS = ("Biology", "Math", "English", "Chemistry")
WORDNET = Path("/usr/share/wordnet")
GCIDE = Path("/usr/share/dictd/gcide.dict.dz")
FORTUNES = Path("/usr/share/games/fortunes")
INSTALL = "apt-get install wordnet-base dict-gcide fortunes"

#: WordNet domain synsets (their first lemma) that count as each subject.
WORDNET_DOMAINS: Mapping[str, frozenset[str]] = {
    "Biology": frozenset(
        {
            "biology",
            "botany",
            "genetics",
            "anatomy",
            "zoology",
            "physiology",
            "microbiology",
            "cytology",
            "embryology",
            "ecology",
            "bacteriology",
            "virology",
            "histology",
        }
    ),
    "Chemistry": frozenset({"chemistry", "organic_chemistry", "inorganic_chemistry"}),
    "Math": frozenset(
        {
            "mathematics",
            "statistics",
            "geometry",
            "algebra",
            "calculus",
            "arithmetic",
            "trigonometry",
            "analytic_geometry",
        }
    ),
    "English": frozenset(
        {
            "grammar",
            "linguistics",
            "literature",
            "poetry",
            "prosody",
            "rhetoric",
            "syntax",
            "phonetics",
        }
    ),
}
#: GCIDE field labels (without the full stop) that count as each subject.
GCIDE_FIELDS: Mapping[str, frozenset[str]] = {
    # Not Bot. and Zool.: 16,000 senses, mostly naming one species, would drown the rest.
    "Biology": frozenset({"Biol", "Anat", "Physiol"}),
    "Chemistry": frozenset({"Chem"}),
    "Math": frozenset({"Math", "Geom", "Alg", "Arith", "Trig"}),
    "English": frozenset({"Gram", "Rhet", "Pros", "Philol"}),
}
QUOTES = ("literature",)
CHATTER = ("people", "wisdom", "love", "food", "sports", "pets", "men-women")


T = TypeVar("T")


class MissingData(RuntimeError):
    """A Debian data package the independent set is made from is not installed."""


@dataclass(frozen=True)
class Entry:
    """One term and what a source says about it."""

    term: str
    text: str
    source: str


@dataclass(frozen=True)
class Sources:
    """Everything pages are made from: entries per topic, vocabulary, quotations, chatter."""

    entries: Mapping[str, tuple[Entry, ...]]
    vocabulary: tuple[Entry, ...]
    quotes: tuple[str, ...]
    chatter: tuple[str, ...]


def _require(path: Path) -> Path:
    if not path.exists():
        raise MissingData(f"{path} is missing; install the data first: {INSTALL}")
    return path


def _wordnet_lines(root: Path, pos: str) -> Iterator[str]:
    with (root / f"data.{pos}").open(encoding="latin-1") as data:
        yield from (line for line in data if not line.startswith(" "))


def _gloss(line: str) -> tuple[str, str, list[str]]:
    """(first lemma, definition, examples) of a WordNet data line."""
    fields, _, gloss = line.partition(" | ")
    lemma = fields.split()[4].replace("_", " ")
    parts = [p.strip() for p in gloss.strip().split(";")]
    definition = "; ".join(p for p in parts if not p.startswith('"'))
    # A leading "(mathematics)" or "(genetics)" names the subject outright: a label, not text.
    definition = re.sub(r"^\([^()]*\)\s*", "", definition)
    examples = [p.strip('"') for p in parts if p.startswith('"')]
    return re.sub(r"\(\w\)$", "", lemma), definition, examples


def wordnet_entries(root: Path = WORDNET) -> dict[str, list[Entry]]:
    """Glosses of every synset in one of each topic's domains, from all four parts of speech."""
    names = {}
    for line in _wordnet_lines(_require(root), "noun"):
        names[line[:8]] = line.split()[4].lower()
    topic_of = {
        offset: topic
        for offset, name in names.items()
        for topic, domains in WORDNET_DOMAINS.items()
        if name in domains
    }
    out: dict[str, list[Entry]] = {t: [] for t in TOPICS}
    for pos in ("noun", "verb", "adj", "adv"):
        for line in _wordnet_lines(root, pos):
            for offset in re.findall(r" ;c (\d{8}) n ", line.partition(" | ")[0]):
                if offset in topic_of:
                    lemma, definition, _ = _gloss(line)
                    out[topic_of[offset]].append(Entry(lemma, definition, "WordNet"))
                    break
    return out


def wordnet_vocabulary(root: Path = WORDNET) -> list[Entry]:
    """Adjectives with a definition and a usage example: a vocabulary exercise's raw material."""
    out = []
    for line in _wordnet_lines(_require(root), "adj"):
        lemma, definition, examples = _gloss(line)
        if examples and 6 <= len(lemma) <= 14 and " " not in lemma and ";c" not in line:
            out.append(Entry(lemma, f"{definition}. e.g. {examples[0]}", "WordNet"))
    return out


_MARKUP = re.compile(r"\[[^\]]*\^?\]|\{|\}|<[^>]+>|--[A-Z][\w. ]*\.?|\[1913 Webster\]|\[PJC\]")


def _clean_gcide(text: str) -> str:
    text = text.split(" -- ")[0]  # derived forms follow: "Re*flect"ive*ly, adv."
    text = re.sub(r"\[(?:[a-z]?[`'\"^=.~-]?[a-z]{0,4})\]", "", text)  # [a^] and the like
    text = _MARKUP.sub("", text)
    text = re.sub(r"\S*[*\\]\S*", "", text)  # pronunciations: "Re*flect"ive", "\\Val"ue\\"
    text = re.sub(r"\(\s*\)|\s+", " ", text)
    return text.strip(" ;,")


def gcide_entries(lines: Iterable[str]) -> dict[str, list[Entry]]:
    """Senses of GCIDE (dictd text) whose field label names one of the topics."""
    label_topic = {label: t for t, labels in GCIDE_FIELDS.items() for label in labels}
    label = re.compile(r"\((" + "|".join(map(re.escape, label_topic)) + r")\.\)")
    headword = re.compile(r"^([A-Za-z][A-Za-z' -]+?) \\")
    out: dict[str, list[Entry]] = {t: [] for t in TOPICS}
    term = ""
    block: list[str] = []

    def flush() -> None:
        text = " ".join(block)
        found = label.search(text)
        if term and found:
            definition = _clean_gcide(text[found.end() :])
            if 30 <= len(definition) <= 400 and not definition.startswith(("Same as", "See ")):
                out[label_topic[found.group(1)]].append(Entry(term, definition, "GCIDE"))
        block.clear()

    for line in lines:
        if not line.strip():
            flush()
            continue
        start = headword.match(line)
        if start:
            flush()
            term = start.group(1)
        block.append(line.strip())
    flush()
    return out


def read_gcide(path: Path = GCIDE) -> dict[str, list[Entry]]:
    """GCIDE's labelled senses, read from the installed dictd file."""
    with gzip.open(_require(path), "rt", encoding="utf-8", errors="replace") as dz:
        return gcide_entries(dz)


def fortunes(names: Iterable[str], root: Path = FORTUNES, max_lines: int = 4) -> list[str]:
    """Short fortunes (at most `max_lines` lines), one string each, lines joined by newlines."""
    out = []
    for name in names:
        text = _require(root / name).read_text(encoding="utf-8", errors="replace")
        for item in text.split("\n%\n"):
            lines = [line.strip() for line in item.strip().splitlines() if line.strip()]
            if 0 < len(lines) <= max_lines and all(len(line) <= 90 for line in lines):
                out.append("\n".join(lines))
    return out


def load() -> Sources:
    """Every source, from the installed Debian packages (`MissingData` names what to install)."""
    entries = wordnet_entries()
    for topic, more in read_gcide().items():
        # At most as many 1913 senses as modern WordNet glosses, so that the old dictionary's
        # wording ("Of or pertaining to...") does not make most of a page; a fixed choice.
        more.sort(key=lambda e: hashlib.sha256(f"{e.term}|{e.text}".encode()).digest())
        entries[topic].extend(more[: len(entries[topic])])
    return Sources(
        {t: tuple(e) for t, e in entries.items()},
        tuple(wordnet_vocabulary()),
        tuple(fortunes(QUOTES)),
        tuple(fortunes(CHATTER)),
    )


def _halves(items: Iterable[T], rng: random.Random) -> tuple[tuple[T, ...], tuple[T, ...]]:
    pool = sorted(items, key=repr)  # a stable order whatever the reading order was
    rng.shuffle(pool)
    cut = len(pool) // 2
    return tuple(pool[:cut]), tuple(pool[cut:])


def split(sources: Sources, seed: int) -> dict[str, Sources]:
    """`dev` and `heldout`: every pool shuffled with `seed` and cut in two disjoint halves."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    parts: dict[str, dict[str, tuple[Entry, ...]]] = {"dev": {}, "heldout": {}}
    for topic in TOPICS:
        parts["dev"][topic], parts["heldout"][topic] = _halves(sources.entries[topic], rng)
    vocabulary = _halves(sources.vocabulary, rng)
    quotes = _halves(sources.quotes, rng)
    chatter = _halves(sources.chatter, rng)
    return {
        name: Sources(parts[name], vocabulary[i], quotes[i], chatter[i])
        for i, name in enumerate(("dev", "heldout"))
    }
