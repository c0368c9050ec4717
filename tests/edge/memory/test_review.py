"""The review service: due queue, grading, the list, deletion and today's progress."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import fsrs
import pytest
import sqlite_utils

from edge.errors import CardNotFound
from edge.memory import records, review
from edge.memory.port import CardDraft
from edge.memory.scheduler import Scheduler
from edge.store import Store
from tests.edge.memory.conftest import MITOSIS, PageSpec, add_session
from tests.support import ZONE, FakeClock, berlin

NOW = berlin("2026-11-25 10:00")


def scheduler() -> Scheduler:
    """FSRS's defaults, without fuzz."""
    return Scheduler(fsrs.Scheduler(enable_fuzzing=False))


def add_cards(
    db: sqlite_utils.Database, questions: list[str], at: datetime = NOW, topic: str = "Biology"
) -> list[str]:
    """One card per question, made at `at` (so due then); their ids."""
    session_id, [event] = add_session(db, [PageSpec(MITOSIS, topic=topic)])
    made = [
        records.insert_card(db, session_id, CardDraft(event, topic, None, "qa", q, "a"), "t", at)
        for q in questions
    ]
    return [card_id for card_id in made if card_id is not None]


def test_a_question_asked_again_makes_no_second_card(db: sqlite_utils.Database) -> None:
    """Case, spacing, punctuation and blank length do not make a question new."""
    ids = add_cards(db, ["What is _____ ?", "what  is ___?", "WHAT IS ____"])

    assert len(ids) == 1
    assert db.table("cards").count == 1


def test_the_due_queue_is_soonest_first_and_only_what_is_due(db: sqlite_utils.Database) -> None:
    """Cards made later are due later; one not yet due is left out and not counted."""
    first = add_cards(db, ["first?"], NOW - timedelta(hours=2))
    second = add_cards(db, ["second?"], NOW - timedelta(hours=1))
    add_cards(db, ["later?"], NOW + timedelta(hours=1))

    queue = review.due(db, NOW, ZONE, limit=20)

    assert [card.card_id for card in queue.cards] == first + second
    assert queue.due_count == 2


def test_the_due_queue_stops_at_its_limit_but_counts_all(db: sqlite_utils.Database) -> None:
    """`limit` caps the cards answered, not the count of those due."""
    add_cards(db, [f"question {n}?" for n in range(5)], NOW - timedelta(minutes=5))

    queue = review.due(db, NOW, ZONE, limit=2)

    assert (len(queue.cards), queue.due_count) == (2, 5)


def test_grading_moves_the_card_out_of_the_queue(db: sqlite_utils.Database) -> None:
    """A good first grade puts the card ten minutes out: not due now, one reviewed today."""
    [card_id] = add_cards(db, ["What is mitosis?"])

    graded = review.grade(db, scheduler(), card_id, "good", NOW, ZONE)

    assert graded.card.due == NOW + timedelta(minutes=10)
    assert (graded.progress.reviewed_today, graded.progress.due_now) == (1, 0)


def test_grading_an_unknown_card_is_card_not_found(db: sqlite_utils.Database) -> None:
    """A made-up id is refused, the error naming it, and writes no review log."""
    with pytest.raises(CardNotFound, match="no-such-card"):
        review.grade(db, scheduler(), "no-such-card", "good", NOW, ZONE)
    assert db.table("review_logs").count == 0


def test_a_grade_keeps_how_long_the_student_took(db: sqlite_utils.Database) -> None:
    """The duration given with a grade is the review log's `review_duration_ms`."""
    [card_id] = add_cards(db, ["What is mitosis?"])

    review.grade(db, scheduler(), card_id, "good", NOW, ZONE, duration_ms=4200)

    assert [row["review_duration_ms"] for row in db.table("review_logs").rows] == [4200]


def test_a_grade_just_after_local_midnight_is_the_new_days(db: sqlite_utils.Database) -> None:
    """00:30 in Berlin is 23:30 UTC the day before: the grade's progress is of the local day."""
    [card_id] = add_cards(db, ["What is mitosis?"], berlin("2026-11-24 09:00"))

    graded = review.grade(db, scheduler(), card_id, "again", berlin("2026-11-25 00:30"), ZONE)

    assert (graded.progress.date, graded.progress.reviewed_today) == (date(2026, 11, 25), 1)


def test_todays_progress_counts_the_students_day_only(db: sqlite_utils.Database) -> None:
    """A grade given before local midnight is yesterday's, though the same UTC date."""
    [card_id] = add_cards(db, ["What is mitosis?"], berlin("2026-11-24 09:00"))
    review.grade(db, scheduler(), card_id, "again", berlin("2026-11-24 23:30"), ZONE)

    today = review.progress(db, berlin("2026-11-25 00:30"), ZONE)

    assert today.reviewed_today == 0


@pytest.mark.parametrize(
    ("graded_at", "asked_at", "counted"),
    [
        ("2026-11-25 00:30", "2026-11-25 10:00", 1),  # 23:30 UTC the day before
        ("2026-11-26 00:30", "2026-11-25 23:50", 0),  # 23:30 UTC the same day
    ],
    ids=["after-local-midnight", "after-the-next-local-midnight"],
)
def test_the_students_day_runs_from_local_midnight_to_local_midnight(
    db: sqlite_utils.Database, graded_at: str, asked_at: str, counted: int
) -> None:
    """A day's grades begin and end at Berlin midnights, not at UTC ones."""
    [card_id] = add_cards(db, ["What is mitosis?"], berlin("2026-11-24 09:00"))
    review.grade(db, scheduler(), card_id, "again", berlin(graded_at), ZONE)

    today = review.progress(db, berlin(asked_at), ZONE)

    assert today.reviewed_today == counted


def test_the_due_queue_counts_the_grades_of_the_local_day(db: sqlite_utils.Database) -> None:
    """The queue's progress counts a grade given at 00:30 Berlin (23:30 UTC) as today's."""
    [card_id] = add_cards(db, ["What is mitosis?"], berlin("2026-11-24 09:00"))
    review.grade(db, scheduler(), card_id, "again", berlin("2026-11-25 00:30"), ZONE)

    queue = review.due(db, NOW, ZONE)

    assert queue.progress.reviewed_today == 1


def test_cards_of_one_topic_match_in_any_case(db: sqlite_utils.Database) -> None:
    """`topic=chemistry` lists the Chemistry cards and counts only them."""
    add_cards(db, ["What is mitosis?"])
    [acid] = add_cards(db, ["What does an acid donate?"], topic="Chemistry")

    found = review.cards(db, "chemistry")

    assert ([c.card_id for c in found.cards], found.total) == ([acid], 1)


def test_a_card_list_names_the_topic_asked_for(db: sqlite_utils.Database) -> None:
    """The list says which topic it is of, as the caller spelled it."""
    add_cards(db, ["What does an acid donate?"], topic="Chemistry")

    assert review.cards(db, "chemistry").topic == "chemistry"


def test_deleting_a_card_takes_its_review_logs(db: sqlite_utils.Database) -> None:
    """The card and its review logs are gone; another card is untouched."""
    keep, gone = add_cards(db, ["keep?", "gone?"])
    review.grade(db, scheduler(), gone, "good", NOW, ZONE)

    review.delete(db, gone, linked=False)

    assert [row["id"] for row in db.query("SELECT id FROM cards")] == [keep]
    assert db.table("review_logs").count == 0


def tombstones(db: sqlite_utils.Database) -> list[str]:
    """The ids of deleted cards whose deletion waits to be sent to the cloud."""
    rows = db.query(
        "SELECT fact_id FROM sync_outbox WHERE kind = 'card' AND deleted_at IS NOT NULL"
    )
    return [row["fact_id"] for row in rows]


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "not-linked"])
def test_a_deleted_card_leaves_a_tombstone_only_when_linked(
    db: sqlite_utils.Database, linked: bool
) -> None:
    """Linked, the cloud may hold the card: its deletion is sent; unlinked, nothing is kept."""
    [card_id] = add_cards(db, ["What is mitosis?"])

    review.delete(db, card_id, linked=linked)

    assert tombstones(db) == ([card_id] if linked else [])


def test_deleting_an_unknown_card_is_card_not_found(db: sqlite_utils.Database) -> None:
    """Nothing to delete is a 404 naming the id, not a silent success."""
    with pytest.raises(CardNotFound, match="no-such-card"):
        review.delete(db, "no-such-card", linked=False)


def test_forgetting_a_session_takes_its_cards_along(db: sqlite_utils.Database) -> None:
    """Deleting a session's rows as forget does (children, then the session) drops its cards."""
    [card_id] = add_cards(db, ["What is mitosis?"])
    review.grade(db, scheduler(), card_id, "good", NOW, ZONE)
    [session_id] = [row["session_id"] for row in db.query("SELECT session_id FROM cards")]

    db.execute("DELETE FROM learning_events WHERE session_id = ?", [session_id])
    db.execute("DELETE FROM sessions WHERE id = ?", [session_id])

    assert (db.table("cards").count, db.table("review_logs").count) == (0, 0)


def test_the_due_query_reads_the_due_index(db: sqlite_utils.Database) -> None:
    """The queue of 5,000 cards is an index range scan in due order, never a sort of all."""
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT c.id FROM cards c JOIN topics t ON t.id = c.topic_id"
        " LEFT JOIN subtopics st ON st.id = c.subtopic_id"
        " WHERE c.due <= ? ORDER BY c.due, c.id LIMIT 20",
        ["2026-11-25T10:00:00.000Z"],
    ).fetchall()
    details = " | ".join(row["detail"] for row in plan)

    assert "USING INDEX cards_due" in details
    assert "TEMP B-TREE" not in details


def test_of_5000_due_cards_the_first_page_comes_and_all_count(db: sqlite_utils.Database) -> None:
    """5,000 due cards: 20 answered, all 5,000 counted (speed: scripts/bench/review_page.py)."""
    add_cards(db, [f"question number {n}?" for n in range(5000)], NOW - timedelta(days=1))

    queue = review.due(db, NOW, ZONE, limit=20)

    assert (len(queue.cards), queue.due_count) == (20, 5000)


def service(store: Store, clock: FakeClock, *, linked: bool = False) -> review.ReviewService:
    """The review service on the daemon's store, at the clock's now, in Berlin."""
    return review.ReviewService(store, scheduler(), clock, ZONE, linked=lambda: linked)


async def test_the_services_progress_is_of_the_students_day(store: Store) -> None:
    """Progress at the clock's now: a grade at 00:30 Berlin (23:30 UTC) is today's."""
    at = berlin("2026-11-25 00:30")
    [card_id] = await store.run(lambda db: add_cards(db, ["What is mitosis?"], at))
    await service(store, FakeClock(at)).grade(card_id, "again")

    today = await service(store, FakeClock(NOW)).progress()

    assert (today.date, today.reviewed_today, today.due_now) == (date(2026, 11, 25), 1, 1)


async def test_the_services_due_queue_is_of_the_students_day(store: Store) -> None:
    """The queue's progress counts a grade at 00:30 Berlin (23:30 UTC) as today's."""
    at = berlin("2026-11-25 00:30")
    [card_id] = await store.run(lambda db: add_cards(db, ["What is mitosis?"], at))
    await service(store, FakeClock(at)).grade(card_id, "again")

    queue = await service(store, FakeClock(NOW)).due()

    assert queue.progress.reviewed_today == 1


async def test_the_service_grades_in_the_students_zone(store: Store) -> None:
    """A grade at 00:30 Berlin (23:30 UTC the day before) reports the Berlin date's progress."""
    at = berlin("2026-11-25 00:30")
    [card_id] = await store.run(lambda db: add_cards(db, ["What is mitosis?"], at))

    graded = await service(store, FakeClock(at)).grade(card_id, "good")

    assert graded.progress.date == date(2026, 11, 25)


async def test_the_service_keeps_the_duration_of_a_grade(store: Store) -> None:
    """The duration given to the service reaches the review log."""
    [card_id] = await store.run(lambda db: add_cards(db, ["What is mitosis?"]))

    await service(store, FakeClock(NOW)).grade(card_id, "good", duration_ms=4200)

    durations = await store.run(
        lambda db: [row["review_duration_ms"] for row in db.table("review_logs").rows]
    )
    assert durations == [4200]


async def test_the_services_card_list_stops_at_its_limit(store: Store) -> None:
    """`limit` caps the cards listed, not the total."""
    await store.run(lambda db: add_cards(db, ["first?", "second?"]))

    found = await service(store, FakeClock(NOW)).cards(limit=1)

    assert (len(found.cards), found.total) == (1, 2)


async def test_a_linked_services_deletion_leaves_a_tombstone(store: Store) -> None:
    """A linked edge asks the credentials; the deletion is then kept for the cloud."""
    [card_id] = await store.run(lambda db: add_cards(db, ["What is mitosis?"]))

    await service(store, FakeClock(NOW), linked=True).delete(card_id)

    assert await store.run(tombstones) == [card_id]
