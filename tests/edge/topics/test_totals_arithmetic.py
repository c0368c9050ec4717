"""Tally arithmetic: every frame count adds up, through `add`, `add_segments` and `merge`."""

from __future__ import annotations

from datetime import date

from edge.topics.totals import Tally
from edge.topics.tracker import Segment
from tests.support import berlin


def closed_segment(start: str, end: str, active: int, passive: int, distracted: int) -> Segment:
    """A closed Math segment between two Berlin wall-clock times with the given frame counts."""
    return Segment(
        segment_id=f"math-{start}",
        session_id="s",
        topic="Math",
        day=date.fromisoformat(start[:10]),
        started_at=berlin(start),
        last_seen_at=berlin(start),
        ended_at=berlin(end),
        active_count=active,
        passive_count=passive,
        distracted_count=distracted,
    )


def test_time_added_without_frames_counts_no_frames() -> None:
    """`add` with only a topic and seconds adds time and no frame of any kind."""
    tally = Tally()
    tally.add("Math", 60)

    [math] = tally.stats()
    assert (math.active_count, math.passive_count, math.distracted_count) == (0, 0, 0)


def test_add_sums_passive_and_distracted_frames_of_a_topic() -> None:
    """Adding to a topic twice sums its passive and its distracted frames."""
    tally = Tally()
    tally.add("Math", 60, active=1, passive=2, distracted=3)
    tally.add("Math", 60, active=1, passive=4, distracted=5)

    [math] = tally.stats()
    assert (math.passive_count, math.distracted_count) == (6, 8)


def test_segments_add_their_passive_and_distracted_frames() -> None:
    """Each segment's passive and distracted counts land in their own columns of its topic."""
    tally = Tally().add_segments(
        [
            closed_segment("2026-11-25 10:00", "2026-11-25 10:01", 1, 2, 3),
            closed_segment("2026-11-25 10:05", "2026-11-25 10:06", 0, 4, 5),
        ]
    )

    [math] = tally.stats()
    assert (math.active_count, math.passive_count, math.distracted_count) == (1, 6, 8)


def test_merge_carries_distracted_frames() -> None:
    """Merging tallies sums their distracted frames as well as their time."""
    monday = Tally()
    monday.add("Math", 60, active=1, passive=1, distracted=2)
    tuesday = Tally()
    tuesday.add("Math", 60, active=0, passive=1, distracted=1)

    [math] = Tally().merge(monday).merge(tuesday).stats()
    assert (math.passive_count, math.distracted_count) == (2, 3)
