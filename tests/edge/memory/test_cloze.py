"""On-device clozes: key sentences with their weightiest subject term blanked."""

from __future__ import annotations

import time

import pytest

from edge.memory.cloze import BLANK, ClozeMaker, cloze_cards, sentences
from edge.memory.port import Page
from edge.vision.classify import Lexicon, load_lexicon
from tests.edge.memory.conftest import ACIDS, MITOSIS, PHOTOSYNTHESIS


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    """The packaged lexicon, read once."""
    return load_lexicon()


def page(text: str, topic: str = "Biology", event_id: str = "e1") -> Page:
    """A page of `topic`."""
    return Page(event_id, topic, None, text)


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
