"""The lexicon classifier: topic, subtopic, study and distraction from text alone."""

from __future__ import annotations

import pytest

from edge.vision.classify import (
    FUZZY_WEIGHT,
    MAX_SHAPE_HITS,
    Reading,
    classify,
    is_formula,
    load_lexicon,
    squash,
    text_distance,
)
from shared.topics import UNKNOWN

LEXICON = load_lexicon()


@pytest.mark.parametrize(
    ("text", "topic", "subtopic"),
    [
        (
            "Mitosis: prophase, metaphase, anaphase and telophase of each chromosome",
            "Biology",
            "Cell division",
        ),
        ("Photosynthesis in the chloroplasts: the Calvin cycle", "Biology", "Photosynthesis"),
        ("Find the derivative and the integral of f(x) dx", "Math", "Calculus"),
        (
            "Covalent and ionic bonds: atoms share electrons in a molecule",
            "Chemistry",
            "Chemical bonding",
        ),
        ("In the poem each stanza uses a metaphor; the sonnet's alliteration", "English", "Poetry"),
    ],
)
def test_study_text_gets_its_topic_and_subtopic(text: str, topic: str, subtopic: str) -> None:
    """Typical page text is sorted into its topic and subtopic."""
    verdict = classify(text, LEXICON)
    assert (verdict.topic, verdict.subtopic, verdict.is_studying) == (topic, subtopic, True)
    assert 0 < verdict.confidence <= 1


def test_text_without_study_words_is_not_study() -> None:
    """Ordinary text is Unknown and not studying, with no confidence."""
    verdict = classify("Lunch at noon, then the bus home at five.", LEXICON)
    assert (verdict.topic, verdict.is_studying, verdict.confidence) == (UNKNOWN, False, 0.0)


def test_a_feed_is_distracted() -> None:
    """Social-feed text marks the view as distracted."""
    verdict = classify("Reels · For you · 2.1M likes · 300 comments · Subscribe", LEXICON)
    assert verdict.is_distracted
    assert not verdict.is_studying


def test_words_match_whole_only() -> None:
    """'cellar' is not 'cell', 'atomic' not 'atom'."""
    verdict = classify("The cellar stairs and an atomic clock", LEXICON)
    assert verdict.topic == UNKNOWN


def test_a_clear_winner_is_surer_than_a_mix() -> None:
    """Text about one topic scores a higher confidence than text mixing two."""
    pure = classify("mitosis meiosis chromosome dna enzyme protein", LEXICON)
    mixed = classify("mitosis meiosis chromosome equation derivative integral", LEXICON)
    assert pure.confidence > mixed.confidence


def test_text_distance() -> None:
    """Same text is 0 apart, unrelated text 1; case and spacing do not count."""
    assert text_distance("The Cell  divides", "thecelldivides") == 0.0
    assert text_distance("alpha beta", "gamma delta") == 1.0
    assert 0 < text_distance("mitosis prophase", "mitosis prophasc") < 0.3


def test_run_together_ocr_text_is_still_classified() -> None:
    """OCR that drops the spaces still finds the long study terms."""
    verdict = classify("Photosynthesistakesplaceinthechloroplasts.Duringprophase", LEXICON)
    assert verdict.topic == "Biology"


def test_a_custom_lexicon_is_read_from_toml() -> None:
    """Topics and weights come from the data file's format."""
    lexicon = load_lexicon("[topics.Music]\nwords = { chord = 5 }\n")
    assert classify("a minor chord", lexicon).topic == "Music"


def full_width(text: str) -> str:
    """`text` in the full-width forms RapidOCR reads equations in (U+FF01 to U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_full_width_ocr_forms_match_ascii_terms() -> None:
    """RapidOCR reads `x=4, f(x)` in full-width forms: folded, they are math's terms."""
    text = f"Solve {full_width('f(x)=x+3')} for {full_width('x=2,')} then the derivative"

    verdict = classify(text, load_lexicon())

    assert verdict.topic == "Math"
    assert verdict.scores["Math"] >= 2 + 4 + 4  # solve, `f(x)`, derivative


def test_full_width_letters_are_squashed_too() -> None:
    """Run-together full-width text still holds its long terms."""
    assert squash(full_width("PHOTOSYNTHESIS") + "\u3000" + full_width("in")) == "photosynthesisin"


def test_plurals_and_latin_plurals_match_the_singular_term() -> None:
    """The lexicon holds 'nucleus' and 'bacterium'; pages say 'nuclei' and 'bacteria'."""
    reading = Reading("The nuclei of bacteria, the larvae and the ovaries")

    assert all(reading.has(term) for term in ("nucleus", "bacterium", "larva", "ovary"))


def test_one_strong_term_alone_is_not_a_study_page() -> None:
    """A feed line that names 'predators' once is not biology: a topic needs more than one cue."""
    verdict = classify("An effective way to deal with predators is to taste terrible", LEXICON)

    assert verdict.topic == UNKNOWN
    assert 0 < verdict.scores["Biology"] < LEXICON.min_score


def test_word_shapes_name_a_topic_without_any_listed_term() -> None:
    """Words the lexicon never lists still count by their form (-cyte, -itis)."""
    verdict = classify("Thrombocytes in nephritis", LEXICON)

    assert verdict.topic == "Biology"


def test_equations_alone_are_math() -> None:
    """Math notes are mostly symbols: the shape of equations is enough."""
    verdict = classify("3x + 2y = 16, x - y = 2\nx = 4, y = 2", LEXICON)

    assert verdict.topic == "Math"


def test_a_shape_counts_at_most_a_few_times() -> None:
    """A page of twenty equations is not twenty times math."""
    lexicon = load_lexicon("[topics.Math]\nshapes = { '=' = 1 }\n[thresholds]\ntopic = 1\n")

    verdict = classify(" ".join(f"a{n}=b" for n in range(20)), lexicon)

    assert verdict.scores["Math"] == MAX_SHAPE_HITS


@pytest.mark.parametrize("token", ["H2O", "NaCl", "C2H5OH", "Ca(OH)2", "CO2"])
def test_chemical_formulas_are_recognised(token: str) -> None:
    """Element symbols with counts or two-letter symbols read as formulas."""
    assert is_formula(token)


@pytest.mark.parametrize("token", ["OK", "TV", "BBC", "ICU", "Xx2", "co2"])
def test_capitals_that_are_not_formulas_are_not(token: str) -> None:
    """Acronyms, non-symbols and lowercase are not formulas."""
    assert not is_formula(token)


def test_formulas_make_a_page_chemistry() -> None:
    """Formulas count for chemistry (up to three of them)."""
    verdict = classify("2H2 + O2 -> 2H2O; NaCl in water", LEXICON)

    assert verdict.topic == "Chemistry"


def test_a_group_chat_quoting_authors_is_distracted_not_english() -> None:
    """Attributed quotations in a chat, with its times and members, are a chat."""
    text = (
        "Chloe, Ana and 8 others\nWhatever occurs from love is always beyond good\n23:48\n"
        "-- Friedrich Nietzsche\n21:20\nThose who cannot remember the past\n21:58\n"
        "-- George Santayana\n11:41"
    )

    verdict = classify(text, LEXICON)

    assert (verdict.topic, verdict.is_distracted) == (UNKNOWN, True)


def test_an_essay_plan_is_english() -> None:
    """Essay-plan headings are English work even when the content words are ordinary."""
    text = "Essay plan\nIntro: the town at night\nPoint 1: the river\nConclusion: home again"

    verdict = classify(text, LEXICON)

    assert (verdict.topic, verdict.subtopic) == ("English", "Essay writing")


def test_thresholds_come_from_the_lexicon() -> None:
    """`[thresholds]` sets how much a topic needs."""
    lexicon = load_lexicon("[topics.Music]\nweak = ['chord']\n[thresholds]\ntopic = 1\n")

    assert classify("a chord", lexicon).topic == "Music"
    assert classify("a chord", load_lexicon("[topics.Music]\nweak = ['chord']\n")).topic == UNKNOWN


def test_a_term_one_ocr_error_away_still_counts() -> None:
    """Handwriting OCR misreads a letter: 'chromosone' and 'mitocondria' are still biology."""
    verdict = classify("The chromosone and the mitocondria", LEXICON)

    assert verdict.topic == "Biology"
    assert verdict.scores["Biology"] == pytest.approx(FUZZY_WEIGHT * 8)


def test_short_words_are_not_matched_loosely() -> None:
    """Near misses of short words are other words ('cel' is not 'cell', 'hear' not 'heart')."""
    reading = Reading("a cel and hear")

    assert not reading.near("cell")
    assert not reading.near("heart")


def test_terms_inside_ordinary_words_do_not_count() -> None:
    """'absolute' holds 'solute' and 'education' holds 'cation': one word each, no term."""
    reading = Reading("an absolute education")

    assert not reading.has("solute")
    assert not reading.has("cation")


def test_longer_prose_needs_more_than_a_passing_term() -> None:
    """A long text naming two subject terms in passing is not a study page."""
    prose = " ".join(["we walked to the river and talked about the weekend"] * 10)
    text = f"{prose} the enzyme and the chromosome"

    verdict = classify(text, LEXICON)

    assert verdict.scores["Biology"] >= LEXICON.min_score
    assert verdict.topic == UNKNOWN
    assert classify("the enzyme and the chromosome", LEXICON).topic == "Biology"


def test_a_phrase_written_as_one_word_still_counts() -> None:
    """OCR reads the heading 'Essay plan' as 'ESSAYPLAN'."""
    assert Reading("ESSAYPLAN\nIntro: x").has("essay plan")
