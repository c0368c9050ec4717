"""A session's distinct pages: study frames with text, each new page once."""

from __future__ import annotations

import sqlite_utils

from edge.memory.pages import (
    MIN_PAGE_CHARS,
    NEW_PAGE_DISTANCE,
    Frame,
    distinct_pages,
    study_frames,
    uncarded_pages,
)
from edge.sessions import records as session_records
from edge.vision.classify import text_distance
from tests.edge.memory.conftest import ACIDS, MITOSIS, PHOTOSYNTHESIS, PageSpec, add_session


def test_the_same_page_read_again_is_one_page(db: sqlite_utils.Database) -> None:
    """A page, a second reading of it with a letter misread, then a new page: two pages."""
    misread = MITOSIS.replace("prophase", "prophasc")
    session_id, events = add_session(db, [MITOSIS, misread, PHOTOSYNTHESIS])

    pages = distinct_pages(study_frames(db, session_id))

    assert [page.event_id for page in pages] == [events[0], events[2]]


def test_frames_that_are_not_new_study_text_are_no_pages(db: sqlite_utils.Database) -> None:
    """Reused views, distraction, failed frames' neighbours and crumbs of text are skipped."""
    session_id, events = add_session(
        db,
        [
            PageSpec(MITOSIS, outcome="reused"),
            PageSpec(ACIDS, topic="Unknown", studying=False),
            PageSpec("Chapter 4"),
            PageSpec(PHOTOSYNTHESIS),
        ],
    )

    pages = distinct_pages(study_frames(db, session_id))

    assert [page.event_id for page in pages] == [events[3]]


def test_carded_pages_are_left_out_but_still_judge_distinctness(
    db: sqlite_utils.Database,
) -> None:
    """With the first page carded, its re-reading is still not a new page."""
    session_id, events = add_session(db, [MITOSIS, MITOSIS + " ", ACIDS])

    pages = uncarded_pages(db, session_id, carded={events[0]})

    assert [page.event_id for page in pages] == [events[2]]


def frame(text: str, event_id: str = "e1", subtopic: str | None = None) -> Frame:
    """A biology study frame."""
    return Frame(event_id, "Biology", subtopic, text)


def test_a_page_of_the_shortest_length_is_a_page() -> None:
    """Forty characters of text are enough to learn from."""
    text = "Mitosis divides one nucleus into two ok."
    assert len(text) == MIN_PAGE_CHARS

    assert [page.text for page in distinct_pages([frame(text)])] == [text]


def test_a_page_as_different_as_the_threshold_is_a_new_page() -> None:
    """Text exactly the new-page distance away from the last page is no re-reading of it."""
    first = "Mitosis is the division of a nucleus into two identical nuclei."
    second = f"{first} place in the chloroplasts of plant cells."
    assert text_distance(first, second) == NEW_PAGE_DISTANCE

    pages = distinct_pages([frame(first, "a"), frame(second, "b")])

    assert [page.event_id for page in pages] == ["a", "b"]


def test_a_page_keeps_its_frames_subtopic() -> None:
    """The subtopic the frame was read as goes with its page to the cards."""
    [page] = distinct_pages([frame(MITOSIS, subtopic="Cell division")])

    assert page.subtopic == "Cell division"


def test_a_study_frame_has_its_events_subtopic(db: sqlite_utils.Database) -> None:
    """The subtopic is read from the event's subtopic row."""
    session_id, [event_id] = add_session(db, [MITOSIS])
    topic_id = session_records.topic_id(db, "Biology")
    subtopics = db.table("subtopics").insert({"topic_id": topic_id, "name": "Cell division"})
    db.table("learning_events").update(event_id, {"subtopic_id": subtopics.last_pk})

    [found] = study_frames(db, session_id)

    assert found.subtopic == "Cell division"
