"""Adding segments up into topic totals."""

from __future__ import annotations

from datetime import date

from edge.topics.totals import Tally, as_of
from edge.topics.tracker import Segment
from tests.support import ZONE, berlin


def segment(topic: str, start: str, end: str | None, active: int = 0) -> Segment:
    """A segment between two Berlin wall-clock times (end None: running)."""
    return Segment(
        segment_id=f"{topic}-{start}",
        session_id="s",
        topic=topic,
        day=date.fromisoformat(start[:10]),
        started_at=berlin(start),
        last_seen_at=berlin(start),
        ended_at=berlin(end) if end else None,
        active_count=active,
    )


def test_stats_sort_by_time_then_name() -> None:
    """Most time first; equal times alphabetically."""
    tally = Tally().add_segments(
        [
            segment("Math", "2026-11-25 10:00", "2026-11-25 10:01"),
            segment("Biology", "2026-11-25 10:01", "2026-11-25 10:05"),
            segment("English", "2026-11-25 10:05", "2026-11-25 10:06"),
        ]
    )
    assert [s.topic for s in tally.stats()] == ["Biology", "English", "Math"]


def test_segments_of_one_topic_add_up() -> None:
    """Two Biology stretches are one line with their seconds and frames summed."""
    tally = Tally().add_segments(
        [
            segment("Biology", "2026-11-25 10:00", "2026-11-25 10:01", active=2),
            segment("Math", "2026-11-25 10:01", "2026-11-25 10:02"),
            segment("Biology", "2026-11-25 10:02", "2026-11-25 10:04", active=3),
        ]
    )
    biology = tally.stats()[0]
    assert (biology.topic, biology.duration_seconds, biology.active_count) == ("Biology", 180, 5)
    assert tally.total_seconds == 240
    assert tally.total_frames == 5


def test_merge_adds_another_tally() -> None:
    """Merging two days' tallies gives the week's."""
    monday = Tally()
    monday.add("Math", 100.4, active=1)
    tuesday = Tally()
    tuesday.add("Math", 50.4, passive=2)
    week = Tally().merge(monday).merge(tuesday)
    [math] = week.stats()
    assert (math.duration_seconds, math.active_count, math.passive_count) == (151, 1, 2)


def test_running_segment_counts_until_now() -> None:
    """A running segment is read as closed at now."""
    [piece] = as_of([segment("Math", "2026-11-25 10:00", None)], berlin("2026-11-25 10:30"), ZONE)
    assert piece.seconds == 1800


def test_running_segment_is_split_at_midnight_when_read() -> None:
    """Read after midnight, a running segment counts on both days."""
    pieces = as_of([segment("Math", "2026-11-25 23:00", None)], berlin("2026-11-26 00:30"), ZONE)
    assert [(p.day.day, p.seconds) for p in pieces] == [(25, 3600), (26, 1800)]


def test_closed_segments_are_read_as_they_are() -> None:
    """as_of leaves closed segments untouched."""
    closed = segment("Math", "2026-11-25 10:00", "2026-11-25 10:05")
    assert as_of([closed], berlin("2026-11-26 10:00"), ZONE) == [closed]
