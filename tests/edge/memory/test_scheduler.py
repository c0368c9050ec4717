"""Scheduling follows the `fsrs` package exactly, through what the tables keep."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import fsrs
import pytest
import sqlite_utils

from edge.memory import records, review
from edge.memory.port import CardDraft
from edge.memory.scheduler import Memory, Scheduler, to_millis
from shared.memory import Rating
from tests.edge.memory.conftest import MITOSIS, add_session
from tests.support import ZONE, berlin

#: A student's grades of one card and when each was given (whole seconds, as a clock gives).
RECORDED: list[tuple[Rating, datetime]] = [
    ("good", berlin("2026-11-25 10:00")),
    ("again", berlin("2026-11-25 10:01")),
    ("good", berlin("2026-11-25 10:12")),
    ("good", berlin("2026-11-25 10:25")),
    ("hard", berlin("2026-11-27 18:30")),
    ("easy", berlin("2026-12-02 08:15")),
    ("again", berlin("2026-12-20 21:00")),
    ("good", berlin("2026-12-20 21:11")),
    ("good", berlin("2027-01-04 07:45")),
]


def engine() -> fsrs.Scheduler:
    """FSRS's default scheduler without fuzz, so two runs of one sequence agree."""
    return fsrs.Scheduler(enable_fuzzing=False)


def through_fsrs(created: datetime) -> list[fsrs.Card]:
    """The recorded grades fed to the package directly: the card after each."""
    scheduler, card, seen = engine(), fsrs.Card(card_id=1, due=created), []
    for rating, at in RECORDED:
        # The package's own enum by name: our mapping is what is under test.
        card, _ = scheduler.review_card(card, fsrs.Rating[rating.title()], review_datetime=at)
        seen.append(card)
    return seen


def test_a_recorded_sequence_of_grades_schedules_as_fsrs_does(
    db: sqlite_utils.Database,
) -> None:
    """Each grade through the service, stored and read back, leaves the card as fsrs does."""
    created = berlin("2026-11-25 09:59")
    session_id, [event] = add_session(db, [MITOSIS])
    draft = CardDraft(event, "Biology", None, "qa", "What is mitosis?", "Nuclear division")
    card_id = records.insert_card(db, session_id, draft, "test", created)
    assert card_id is not None
    scheduler = Scheduler(engine())

    ours = []
    for rating, at in RECORDED:
        graded = review.grade(db, scheduler, card_id, rating, at, ZONE)
        ours.append((graded.card.due, graded.card.stability, graded.card.difficulty))

    theirs = [(c.due, c.stability, c.difficulty) for c in through_fsrs(created)]
    assert ours == theirs


def test_the_stored_state_round_trips_through_fsrs_card() -> None:
    """A state made from an fsrs.Card turns back into an equal one (apart from the id)."""
    card = through_fsrs(berlin("2026-11-25 09:59"))[4]

    again = Memory.from_fsrs(card).to_fsrs()

    assert again.to_dict() | {"card_id": card.card_id} == card.to_dict()


def test_each_grade_is_one_review_log_row_with_the_state_after(
    db: sqlite_utils.Database,
) -> None:
    """Three grades make three rows, each holding the card's state as that grade left it."""
    session_id, [event] = add_session(db, [MITOSIS])
    draft = CardDraft(event, "Biology", None, "qa", "What is mitosis?", "Nuclear division")
    card_id = records.insert_card(db, session_id, draft, "test", RECORDED[0][1])
    assert card_id is not None
    scheduler = Scheduler(engine())
    dues = [review.grade(db, scheduler, card_id, r, at, ZONE).card.due for r, at in RECORDED[:3]]

    rows = db.execute(
        "SELECT rating, due FROM review_logs WHERE card_id = ? ORDER BY reviewed_at", [card_id]
    ).fetchall()

    assert [(row["rating"], row["due"]) for row in rows] == [
        (fsrs.Rating[r.title()].value, due.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for (r, _), due in zip(RECORDED[:3], dues, strict=True)
    ]


@pytest.mark.parametrize("microsecond", [1, 999_999])
def test_a_review_time_is_cut_to_the_stored_millisecond(microsecond: int) -> None:
    """Reviews between milliseconds are scheduled from the millisecond that is kept."""
    at = berlin("2026-11-25 10:00")
    after = Scheduler(engine()).review(Memory.new(at), "good", at.replace(microsecond=microsecond))

    assert after.last_review is not None
    assert after.last_review.microsecond % 1000 == 0
    assert after.due - after.last_review == timedelta(minutes=10)


def test_a_moment_is_cut_down_to_its_millisecond() -> None:
    """The microseconds below the millisecond are dropped, never rounded."""
    at = datetime(2026, 11, 25, 9, 0, 0, 987_654, tzinfo=UTC)

    assert to_millis(at) == at.replace(microsecond=987_000)


@pytest.fixture
def machine_east_of_utc() -> Iterator[None]:
    """The machine's own zone three hours east of UTC (a device set to local time)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "XYZ-3"  # POSIX: the offset is west of UTC, so -3 is UTC+3
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("machine_east_of_utc")
def test_grading_does_not_depend_on_the_machines_zone() -> None:
    """The `fsrs` package takes UTC only: a review time becomes UTC, not the machine's zone."""
    at = berlin("2026-11-25 10:00")

    after = Scheduler(engine()).review(Memory.new(at), "good", at)

    assert after.due == at + timedelta(minutes=10)


NEW = Memory.new(berlin("2026-11-25 10:00"))


@pytest.mark.parametrize(
    "make",
    [lambda: Memory.new(berlin("2026-11-25 10:00")), NEW.to_fsrs],
    ids=["new", "to_fsrs"],
)
def test_a_card_state_never_makes_fsrs_wait_for_an_id(
    make: Callable[[], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsrs.Card sleeps a millisecond to make an id when given none; on the store thread, no.

    The id is ours to keep, so each card handed to fsrs comes with one.
    """
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)

    make()

    assert slept == []
