"""StudyContext (the tutor's window of recent topics), its instructions, and the Throttle."""

from __future__ import annotations

import pytest

from edge.voice.context import (
    SNIPPET_CHARS,
    WINDOW,
    Seen,
    StudyContext,
    Throttle,
    tutor_instructions,
)
from shared.topics import STUDY_TOPICS


def context() -> StudyContext:
    """A context over the default study topics."""
    return StudyContext(STUDY_TOPICS)


def topics(ctx: StudyContext) -> list[str]:
    """The window's topics, oldest first."""
    return [seen.topic for seen in ctx.window]


def test_an_allowed_topic_enters_the_window() -> None:
    """A configured topic is a change and is kept with its subtopic and text."""
    ctx = context()
    assert ctx.add("Biology", "Cell division", "Mitosis has four phases.") is True
    assert ctx.window == [Seen("Biology", "Cell division", "Mitosis has four phases.")]


def test_a_topic_outside_the_configured_list_is_ignored() -> None:
    """A topic the student did not configure never enters and is no change."""
    ctx = StudyContext(["Biology", "Math"])
    assert ctx.add("Chemistry", None, "NaCl") is False
    assert ctx.window == []


@pytest.mark.parametrize("topic", ["Other", "Unknown"])
def test_other_and_unknown_never_enter_with_the_default_topics(topic: str) -> None:
    """Other and Unknown are not study topics: no change, empty window."""
    ctx = context()
    assert ctx.add(topic, None, "a cat video") is False
    assert ctx.window == []


@pytest.mark.parametrize("topic", ["Other", "Unknown"])
def test_other_and_unknown_never_enter_even_if_configured(topic: str) -> None:
    """Other and Unknown stay out even when listed in the topics (as `add` documents)."""
    ctx = StudyContext(["Biology", "Other", "Unknown"])
    assert ctx.add(topic, None, "a cat video") is False
    assert ctx.window == []


def test_the_window_keeps_the_last_five_topics() -> None:
    """A sixth topic pushes out the oldest."""
    ctx = context()
    seen = ["Math", "Biology", "Chemistry", "Physics", "History", "Geography"]
    for topic in seen:
        assert ctx.add(topic, None, "") is True
    assert WINDOW == 5
    assert topics(ctx) == seen[-5:]


def test_the_same_topic_and_subtopic_again_is_no_change() -> None:
    """Looking at the same page again refreshes the snippet but does not change the window."""
    ctx = context()
    ctx.add("Biology", "Cells", "first text")
    assert ctx.add("Biology", "Cells", "second text") is False
    assert ctx.window == [Seen("Biology", "Cells", "second text")]


def test_a_new_subtopic_of_the_same_topic_is_a_change() -> None:
    """Same topic, other subtopic: a new entry."""
    ctx = context()
    ctx.add("Biology", "Cells", "")
    assert ctx.add("Biology", "Genetics", "") is True
    assert [seen.subtopic for seen in ctx.window] == ["Cells", "Genetics"]


def test_returning_to_an_earlier_topic_is_a_change() -> None:
    """A -> B -> A adds A again as the newest."""
    ctx = context()
    for topic in ("Math", "Biology"):
        ctx.add(topic, None, "")
    assert ctx.add("Math", None, "") is True
    assert topics(ctx) == ["Math", "Biology", "Math"]


def test_the_snippet_is_one_line_and_short() -> None:
    """Whitespace collapses and the snippet is cut at SNIPPET_CHARS."""
    ctx = context()
    ctx.add("History", None, "The\n  French\tRevolution " + "x" * 500)
    snippet = ctx.window[0].snippet
    assert snippet.startswith("The French Revolution x")
    assert len(snippet) == SNIPPET_CHARS


def test_describe_lists_the_topics_newest_first() -> None:
    """The newest topic is `now` and comes first; subtopics and snippets are shown."""
    ctx = context()
    ctx.add("Biology", "Cells", "mitosis")
    ctx.add("Math", "Algebra", "x + 1 = 2")
    lines = ctx.describe().splitlines()
    assert lines[0].startswith("- now: Math / Algebra")
    assert "x + 1 = 2" in lines[0]
    assert lines[1].startswith("- 1 topic(s) ago: Biology / Cells")


def test_describe_says_nothing_was_seen_yet() -> None:
    """An empty window is described as such."""
    assert "Nothing yet" in context().describe()


def test_tutor_instructions_contain_the_context_newest_first() -> None:
    """The instructions are the tutor prompt with the window filled in, newest first."""
    ctx = context()
    ctx.add("Biology", None, "")
    ctx.add("Chemistry", None, "")
    text = tutor_instructions(ctx)
    assert "study tutor" in text
    assert "$context" not in text
    assert text.index("Chemistry") < text.index("Biology")


def test_throttle_lets_the_first_send_through() -> None:
    """Nothing sent yet: no wait."""
    assert Throttle(5.0).delay(100.0) == 0.0


def test_throttle_waits_out_the_rest_of_the_interval() -> None:
    """Inside the interval the delay is what remains of it; after it, none."""
    throttle = Throttle(5.0)
    throttle.sent(100.0)
    assert throttle.delay(102.0) == pytest.approx(3.0)
    assert throttle.delay(105.0) == 0.0
    assert throttle.delay(200.0) == 0.0


def test_throttle_with_no_interval_never_waits() -> None:
    """An interval of 0 sends every change at once."""
    throttle = Throttle(0.0)
    throttle.sent(100.0)
    assert throttle.delay(100.0) == 0.0
