"""On-device clozes: key sentences with their weightiest subject term blanked."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping

import pytest

from edge.memory.cloze import (
    BLANK,
    MAX_SENTENCE_CHARS,
    ClozeMaker,
    cloze_cards,
    sentences,
    topic_terms,
)
from edge.memory.port import Page
from edge.threads import NICENESS
from edge.vision.classify import Cues, Lexicon, load_lexicon
from tests.edge.memory.conftest import ACIDS, MITOSIS, PHOTOSYNTHESIS


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    """The packaged lexicon, read once."""
    return load_lexicon()


def page(
    text: str, topic: str = "Biology", event_id: str = "e1", subtopic: str | None = None
) -> Page:
    """A page of `topic`."""
    return Page(event_id, topic, subtopic, text)


def lexicon_of(**topics: Mapping[str, float]) -> Lexicon:
    """A lexicon of just these topics' terms and weights."""
    return Lexicon(
        topics={name: Cues(terms=terms) for name, terms in topics.items()},
        subtopics={},
        distraction=Cues(),
    )


#: Terms of chosen weights, so that a test can tell which term or sentence won.
WEIGHED = lexicon_of(Biology={"mitosis": 4.0, "osmosis": 2.5, "photosynthesis": 1.0})


def test_the_blank_is_a_subject_term_and_the_answer_is_it_as_written(lexicon: Lexicon) -> None:
    """Each cloze's answer is a lexicon term that filled the blank in the page's sentence."""
    drafts = cloze_cards([page(PHOTOSYNTHESIS)], lexicon, limit=8)

    assert drafts
    for draft in drafts:
        assert draft.kind == "cloze"
        assert draft.question.replace(BLANK, draft.answer, 1) in " ".join(PHOTOSYNTHESIS.split())


def test_every_mention_of_the_answer_is_blanked(lexicon: Lexicon) -> None:
    """A term that appears twice in its sentence leaves no copy to read the answer from."""
    text = "Osmosis is diffusion of water; osmosis needs a partially permeable membrane."
    [draft, *_] = cloze_cards([page(text)], lexicon, limit=8)

    assert draft.answer.lower() not in draft.question.lower()


def test_a_sentence_without_subject_terms_makes_no_card(lexicon: Lexicon) -> None:
    """Plain prose on a study page is no key sentence."""
    text = "We walked to the station in the rain and waited for the late train home."

    assert cloze_cards([page(text)], lexicon, limit=8) == []


def test_the_limit_spreads_over_the_pages_first(lexicon: Lexicon) -> None:
    """With room for three cards from three pages, each page gets one."""
    pages = [
        page(MITOSIS, event_id="a"),
        page(PHOTOSYNTHESIS, event_id="b"),
        page(ACIDS, topic="Chemistry", event_id="c"),
    ]

    drafts = cloze_cards(pages, lexicon, limit=3)

    assert [d.event_id for d in drafts] == ["a", "b", "c"]


def test_headings_and_run_on_ocr_are_no_sentences() -> None:
    """Fewer than five words, or a paragraph run together past sixty, is left out."""
    run_on = " ".join(["cell"] * 70)

    assert sentences(f"Cell biology\n{run_on}\nThe nucleus holds the genetic material.") == [
        "The nucleus holds the genetic material."
    ]


async def test_forty_pages_are_carded_on_device_well_under_five_seconds() -> None:
    """The issue's target: a session of 40 distinct pages, lexicon load included."""
    texts = [MITOSIS, PHOTOSYNTHESIS, ACIDS]
    pages = [page(f"Page {n}. {texts[n % 3]}", event_id=str(n)) for n in range(40)]

    started = time.perf_counter()
    drafts = await ClozeMaker().make(pages, limit=8)

    assert len(drafts) == 8
    assert time.perf_counter() - started < 5


def test_the_word_bounds_are_inclusive() -> None:
    """Five and sixty words make sentences; four and sixty-one do not."""
    lines = [" ".join(["cell"] * n) for n in (4, 5, 60, 61)]

    assert sentences("\n".join(lines)) == [lines[1], lines[2]]


def test_a_sentence_of_the_longest_length_is_kept() -> None:
    """Four hundred characters fit a card; one more does not."""
    longest = "a a a a " + "b" * (MAX_SENTENCE_CHARS - 8)
    too_long = longest + "b"

    assert sentences(f"{longest}\n{too_long}") == [longest]


def test_a_phrase_term_is_blanked_whole() -> None:
    """A term of two words is the answer, and both its words leave the question."""
    lexicon = lexicon_of(Biology={"carbon dioxide": 4.0})
    text = "Plants take in carbon dioxide through the stomata of their leaves."

    [draft] = cloze_cards([page(text)], lexicon, limit=8)

    assert (draft.question, draft.answer) == (
        f"Plants take in {BLANK} through the stomata of their leaves.",
        "carbon dioxide",
    )


def test_a_capitalised_term_is_blanked() -> None:
    """A term that opens its sentence is found whatever its case, and kept as written."""
    [draft] = cloze_cards([page("Mitosis divides a nucleus into two nuclei.")], WEIGHED, limit=8)

    assert (draft.question, draft.answer) == (
        f"{BLANK} divides a nucleus into two nuclei.",
        "Mitosis",
    )


def test_without_the_pages_topic_every_topics_terms_count_at_their_highest_weight() -> None:
    """A topic the lexicon lacks gets the terms of all topics, a shared one at its top weight."""
    lexicon = lexicon_of(
        Biology={"cell": 2.0, "osmosis": 0.5}, Chemistry={"cell": 1.0, "acid": 3.0}
    )

    assert topic_terms(lexicon, "History") == {"cell": 2.0, "osmosis": 0.5, "acid": 3.0}


def test_a_page_is_read_for_its_own_topics_terms_only() -> None:
    """A chemistry term on a biology page is no key term."""
    lexicon = lexicon_of(Biology={"mitosis": 4.0}, Chemistry={"acid": 4.0})
    text = "An acid donates protons when it dissolves in water."

    assert cloze_cards([page(text, topic="Biology")], lexicon, limit=8) == []


def test_a_three_letter_term_is_blanked() -> None:
    """The shortest terms that still name knowledge ("DNA") are answers."""
    lexicon = lexicon_of(Biology={"dna": 4.0})

    [draft] = cloze_cards(
        [page("The dna of a cell is copied before it divides.")], lexicon, limit=8
    )

    assert draft.answer == "dna"


def test_a_term_of_two_letters_is_never_the_blank() -> None:
    """The lexicon weighs "pH" above "acid", yet the blank is "acid"."""
    lexicon = lexicon_of(Chemistry={"ph": 4.0, "acid": 1.0})
    text = "The ph of an acid solution is below seven."

    [draft] = cloze_cards([page(text, topic="Chemistry")], lexicon, limit=8)

    assert draft.answer == "acid"


def test_a_sentence_without_terms_does_not_end_the_page() -> None:
    """A key sentence after plain prose is still found."""
    text = "We read this chapter in the library today. Mitosis divides a nucleus into two nuclei."

    [draft] = cloze_cards([page(text)], WEIGHED, limit=8)

    assert draft.answer == "Mitosis"


def test_two_terms_of_equal_weight_and_length_make_one_cloze() -> None:
    """A tie between terms still blanks one of them."""
    lexicon = lexicon_of(Biology={"mitosis": 2.0, "meiosis": 2.0})
    text = "Mitosis and meiosis both divide the nucleus of a cell."

    [draft] = cloze_cards([page(text)], lexicon, limit=8)

    assert draft.question.count(BLANK) == 1


def test_the_weightiest_term_is_the_blank_not_the_longest() -> None:
    """Of a heavy short term and a light long one, the heavy one is the answer."""
    lexicon = lexicon_of(Biology={"cell": 4.0, "chromosome": 1.0})

    [draft] = cloze_cards(
        [page("Each cell copies every chromosome before it divides.")], lexicon, limit=8
    )

    assert draft.answer == "cell"


def test_a_cloze_carries_its_pages_subtopic(lexicon: Lexicon) -> None:
    """The card is filed under the subtopic its page was read as."""
    drafts = cloze_cards([page(MITOSIS, subtopic="Cell division")], lexicon, limit=8)

    assert drafts
    assert {draft.subtopic for draft in drafts} == {"Cell division"}


def test_a_pages_cards_are_its_two_sentences_of_weightiest_terms() -> None:
    """Of three key sentences, the two whose terms weigh most, not whose terms are longest."""
    text = (
        "Mitosis divides a nucleus into two nuclei. "
        "Photosynthesis makes sugar in the leaves of plants. "
        "Osmosis moves water across a partially permeable membrane."
    )

    drafts = cloze_cards([page(text)], WEIGHED, limit=8)

    assert [draft.answer for draft in drafts] == ["Mitosis", "Osmosis"]


def test_with_room_for_one_card_the_richest_page_gives_it() -> None:
    """One card from two pages comes from the page whose best sentence weighs most."""
    pages = [
        page("Photosynthesis makes sugar in the leaves of plants.", event_id="light"),
        page("Mitosis divides a nucleus into two nuclei.", event_id="heavy"),
    ]

    [draft] = cloze_cards(pages, WEIGHED, limit=1)

    assert draft.event_id == "heavy"


async def test_a_maker_given_a_lexicon_cards_by_it() -> None:
    """The lexicon handed to the maker, not the packaged one, decides the terms."""
    maker = ClozeMaker(lexicon_of(Biology={"zorbium": 4.0}))
    try:
        [draft] = await maker.make([page("Zorbium is a metal found in no real book.")], limit=8)
    finally:
        await maker.close()

    assert draft.answer == "Zorbium"


class WatchedPages(list[Page]):
    """Pages that note the priority of each thread that reads them."""

    def __init__(self, pages: list[Page]) -> None:
        super().__init__(pages)
        self.priorities: list[int] = []

    def __iter__(self) -> Iterator[Page]:
        self.priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().__iter__()


async def test_the_cards_are_worked_out_on_a_niced_thread() -> None:
    """The pages are read below the event loop's priority, so frames and voice come first."""
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if loop_priority >= 19:
        pytest.skip("the tests already run at the lowest priority")
    pages = WatchedPages([page(MITOSIS)])
    maker = ClozeMaker(load_lexicon())
    try:
        await maker.make(pages, limit=8)
    finally:
        await maker.close()

    assert pages.priorities == [min(loop_priority + NICENESS, 19)]
