"""The independent evaluation set: its sources are parsed, split, and drawn as labelled."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

import pytest
from PIL import Image

from scripts.bench import mathgen, pagesets, pagesources
from scripts.bench.pagedraw import Fonts
from scripts.bench.pagesources import TOPICS, Entry, Sources

#: Pillow's own font: the unit test needs none of the Debian font packages.
FONTS = Fonts()
WORDS = {
    "Biology": ["chlorophyll", "xylem", "phloem", "stomata", "osmosis", "vacuole", "cilia",
                "zygote", "pollen", "enzyme"],
    "Math": ["asymptote", "tangent", "median", "variance", "integer", "divisor", "vertex",
             "radius", "quotient", "matrix"],
    "English": ["sonnet", "clause", "syllable", "iambic", "adverb", "rhyme", "stanza", "prefix",
                "idiom", "couplet"],
    "Chemistry": ["valence", "alkali", "solvent", "halogen", "ester", "alloy", "isotope",
                  "anion", "polymer", "reagent"],
}  # fmt: skip


def _sources() -> Sources:
    entries = {
        topic: tuple(Entry(w, f"{w} is a {topic.lower()} term", "test") for w in words)
        for topic, words in WORDS.items()
    }
    vocabulary = tuple(Entry(w, f"{w} means something. e.g. a {w} day", "test") for w in
                       ("placid", "brazen", "candid", "frugal"))  # fmt: skip
    quotes = ("To be, or not to be\n-- Shakespeare", "Call me Ishmael.\n-- Melville")
    chatter = tuple(f"see you at {n}, bring the charger" for n in range(10))
    return Sources(entries, vocabulary, quotes, chatter)


def _split() -> dict[str, Sources]:
    return pagesources.split(_sources(), seed=7)


def test_split_is_seeded_and_disjoint() -> None:
    """The same seed cuts the same halves; no entry is in both parts."""
    first, again = _split(), _split()
    assert first == again
    for topic in TOPICS:
        dev, heldout = first["dev"].entries[topic], first["heldout"].entries[topic]
        assert len(dev) == len(heldout) == 5
        assert not set(dev) & set(heldout)
    assert pagesources.split(_sources(), seed=8) != first


def test_an_item_is_deterministic() -> None:
    """The same seed draws and encodes the same bytes."""
    src = _split()["dev"]
    one = pagesets.make_item("dev", "Chemistry", 0, src, FONTS, seed=3)
    two = pagesets.make_item("dev", "Chemistry", 0, src, FONTS, seed=3)
    assert (one.phone, one.glasses, one.text) == (two.phone, two.glasses, two.text)
    assert pagesets.make_item("dev", "Chemistry", 0, src, FONTS, seed=4).phone != one.phone


@pytest.mark.parametrize("topic", TOPICS)
def test_a_page_shows_words_of_its_own_topic_only(topic: str) -> None:
    """Every layout draws terms of its topic's part of the sources, none of another's.

    Math's worksheet is all generated problems: it shows equations instead.
    """
    splits = _split()
    src = splits["heldout"]
    others = {w for t, words in WORDS.items() if t != topic for w in words}
    layouts = {**pagesets.LAYOUTS, **(pagesets.ENGLISH_EXTRA if topic == "English" else {})}
    for kind, layout in layouts.items():
        text = "\n".join(layout(topic, src, random.Random(1), FONTS).lines)  # noqa: S311
        drawn = set(re.findall(r"[a-z]+", text.lower()))
        if topic == "Math":
            assert re.search(r"\d+ = |x = -?\d", text), kind
        if (topic, kind) != ("Math", "worksheet"):
            assert drawn & {e.term for e in src.entries[topic]}, kind
        assert not drawn & {e.term for e in splits["dev"].entries[topic]}, kind
        assert not drawn & others, kind


def test_dataset_counts_kinds_and_sizes() -> None:
    """per_topic pages of each topic and the scenes in each part; frames as the devices send."""
    items = pagesets.dataset({"heldout": _split()["heldout"]}, 1, 2, FONTS, seed=5)
    assert [(i.split, i.label) for i in items] == [
        *(("heldout", t) for t in TOPICS),
        ("heldout", "none"),
        ("heldout", "none"),
    ]
    assert [i.kind for i in items if i.label == "none"] == ["feed", "chat"]
    assert any(w in items[0].text for w in WORDS["Biology"])
    with Image.open(io.BytesIO(items[0].glasses)) as glasses:
        assert (glasses.format, min(glasses.size)) == ("JPEG", 720)
    with Image.open(io.BytesIO(items[0].phone)) as phone:
        assert phone.format == "JPEG"
        assert min(phone.size) > 768  # the daemon's preparation shrinks it, as a phone's


@pytest.mark.parametrize("generator", mathgen.GENERATORS)
def test_math_problems_have_math_shape(generator: mathgen.Generator) -> None:
    """Every kind of problem has digits, a sign and an answer, in both notations."""
    for unicode in (True, False):
        problem, answer = generator(random.Random(2), unicode)  # noqa: S311
        assert re.search(r"\d", problem + answer)
        assert re.search(r"[=+·*^∫]|int", problem)
        assert answer


WORDNET_NOUN = (
    "  1 This software and database is being provided to you\n"
    "06037666 09 n 01 biology 0 001 @ 06000000 n 0000 | the science that studies living "
    "organisms\n"
    "06000644 09 n 01 mathematics 0 000 | a science of numbers\n"
    "01234567 05 n 01 xylem 0 002 @ 09999999 n 0000 ;c 06037666 n 0000 | (botany) the woody "
    "strengthening tissue of a vascular plant\n"
    "01234568 05 n 01 lemma 0 001 ;c 06000644 n 0000 | a subsidiary proposition\n"
)
GCIDE = """Valence \\Va"lence\\, n. (Chem.)
   The degree of combining power of an element as shown by the
   number of atomic weights of a monovalent element. [1913 Webster]

Valiant \\Val"iant\\, a.
   Brave; courageous. [1913 Webster]
"""


def test_wordnet_glosses_by_domain(tmp_path: Path) -> None:
    """A synset's domain pointer sorts its gloss; a leading "(botany)" label is dropped."""
    for pos in ("noun", "verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text(WORDNET_NOUN if pos == "noun" else "")
    found = pagesources.wordnet_entries(tmp_path)
    assert found["Biology"] == [
        Entry("xylem", "the woody strengthening tissue of a vascular plant", "WordNet")
    ]
    assert [e.term for e in found["Math"]] == ["lemma"]


def test_gcide_senses_by_field_label() -> None:
    """A sense labelled (Chem.) is Chemistry, without its markup; an unlabelled one is dropped."""
    found = pagesources.gcide_entries(GCIDE.splitlines())
    (entry,) = found["Chemistry"]
    assert entry.term == "Valence"
    assert entry.text.startswith("The degree of combining power of an element")
    assert "1913" not in entry.text
    assert not any(found[t] for t in TOPICS if t != "Chemistry")


def test_missing_data_names_the_packages(tmp_path: Path) -> None:
    """Without the Debian data the loader says what to install."""
    with pytest.raises(pagesources.MissingData, match="apt-get install wordnet-base"):
        pagesources.wordnet_entries(tmp_path / "absent")
