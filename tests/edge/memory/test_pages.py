"""A session's distinct pages: study frames with text, each new page once."""

from __future__ import annotations

import sqlite_utils

from edge.memory.pages import distinct_pages, study_frames, uncarded_pages
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
