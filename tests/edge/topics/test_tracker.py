"""The topic tracker's arithmetic: changes, repeats, Unknown, midnight, restart."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

import pytest

from edge.topics.tracker import FrameFlags, Segment, TopicTracker
from tests.support import ACTIVE, ZONE, berlin

PASSIVE = FrameFlags(active=False, distracted=False)
DISTRACTED = FrameFlags(active=False, distracted=True)


def tracker() -> TopicTracker:
    """A tracker in Berlin time with predictable segment ids."""
    ids = count(1)
    return TopicTracker(ZONE, new_id=lambda: f"seg-{next(ids)}")


def test_first_frame_starts_a_running_segment() -> None:
    """The first frame opens a segment and closes nothing."""
    result = tracker().track("s", "Biology", berlin("2026-11-25 10:00"), ACTIVE)
    assert result.closed == []
    assert result.topic_changed
    assert result.running.topic == "Biology"
    assert result.running.started_at == berlin("2026-11-25 10:00")
    assert result.running.ended_at is None


def test_same_topic_again_changes_no_segment() -> None:
    """A repeated topic keeps the segment and only counts the frame."""
    t = tracker()
    first = t.track("s", "Biology", berlin("2026-11-25 10:00"), ACTIVE)
    again = t.track("s", "Biology", berlin("2026-11-25 10:00:03"), PASSIVE)
    assert again.closed == []
    assert not again.topic_changed
    assert again.running.segment_id == first.running.segment_id
    assert (again.running.active_count, again.running.passive_count) == (1, 1)


def test_topic_change_closes_the_running_segment_at_the_change() -> None:
    """A new topic closes the old segment at the new frame's time, with its frame counts."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 10:00"), ACTIVE)
    t.track("s", "Biology", berlin("2026-11-25 10:01"), DISTRACTED)
    result = t.track("s", "Math", berlin("2026-11-25 10:05"), ACTIVE)
    [closed] = result.closed
    assert closed.topic == "Biology"
    assert closed.seconds == 300
    assert (closed.active_count, closed.passive_count, closed.distracted_count) == (1, 1, 1)
    assert result.running.topic == "Math"
    assert result.running.started_at == berlin("2026-11-25 10:05")


def test_missing_or_blank_topic_counts_as_unknown() -> None:
    """None, empty and whitespace topics are all `Unknown`, and are one segment."""
    t = tracker()
    t.track("s", None, berlin("2026-11-25 10:00"), PASSIVE)
    blank = t.track("s", "   ", berlin("2026-11-25 10:00:03"), PASSIVE)
    assert blank.running.topic == "Unknown"
    assert not blank.topic_changed


def test_topic_aliases_are_the_same_topic() -> None:
    """`maths` and `Math` do not split a segment."""
    t = tracker()
    t.track("s", "Math", berlin("2026-11-25 10:00"), ACTIVE)
    assert not t.track("s", "maths", berlin("2026-11-25 10:00:03"), ACTIVE).topic_changed


def test_sessions_are_tracked_independently() -> None:
    """A change in one session closes nothing in another."""
    t = tracker()
    t.track("a", "Biology", berlin("2026-11-25 10:00"), ACTIVE)
    t.track("b", "Math", berlin("2026-11-25 10:00"), ACTIVE)
    assert t.track("b", "English", berlin("2026-11-25 10:01"), ACTIVE).closed[0].session_id == "b"
    running = t.running("a")
    assert running is not None
    assert running.topic == "Biology"


def test_close_splits_a_segment_at_local_midnight() -> None:
    """A segment from 23:50 to 00:10 is ten minutes on each local day."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:50"), ACTIVE)
    first, second = t.close("s", berlin("2026-11-26 00:10"))
    assert (first.day, first.seconds) == (date(2026, 11, 25), 600)
    assert (second.day, second.seconds) == (date(2026, 11, 26), 600)
    assert first.ended_at == second.started_at == berlin("2026-11-26 00:00")
    assert first.active_count == 1
    assert second.active_count == 0


def test_close_over_several_midnights_gives_a_piece_per_day() -> None:
    """Two midnights crossed give three pieces with distinct ids."""
    t = tracker()
    t.track("s", "Math", berlin("2026-11-25 23:00"), ACTIVE)
    pieces = t.close("s", berlin("2026-11-27 01:00"))
    assert [p.day.day for p in pieces] == [25, 26, 27]
    assert [p.seconds for p in pieces] == [3600, 86400, 3600]
    assert len({p.segment_id for p in pieces}) == 3


def test_frame_after_midnight_rolls_the_segment_over() -> None:
    """The same topic after midnight closes yesterday's piece and runs on from midnight."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:59"), ACTIVE)
    result = t.track("s", "Biology", berlin("2026-11-26 00:01"), PASSIVE)
    [yesterday] = result.closed
    assert (yesterday.day, yesterday.seconds, yesterday.active_count) == (date(2026, 11, 25), 60, 1)
    assert result.running.day == date(2026, 11, 26)
    assert result.running.started_at == berlin("2026-11-26 00:00")
    assert (result.running.active_count, result.running.passive_count) == (0, 1)
    assert not result.topic_changed


def test_topic_change_after_midnight_closes_both_pieces() -> None:
    """A new topic after midnight closes the old one on both days."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:59"), ACTIVE)
    result = t.track("s", "Math", berlin("2026-11-26 00:02"), ACTIVE)
    assert [(p.topic, p.day.day, p.seconds) for p in result.closed] == [
        ("Biology", 25, 60),
        ("Biology", 26, 120),
    ]
    assert result.running.topic == "Math"


def test_midnight_split_follows_daylight_saving_time() -> None:
    """The night clocks go back has a 25-hour local day; midnight is still local midnight."""
    t = tracker()
    t.track("s", "History", berlin("2026-10-24 23:00"), ACTIVE)
    first, second = t.close("s", berlin("2026-10-25 04:00"))
    assert first.seconds == 3600
    assert second.seconds == 5 * 3600  # 00:00 to 04:00 local includes the repeated hour


def test_clock_stepping_back_never_makes_negative_time() -> None:
    """A frame stamped before the previous one is taken as simultaneous with it."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 10:00"), ACTIVE)
    result = t.track("s", "Math", berlin("2026-11-25 09:59"), ACTIVE)
    assert result.closed[0].seconds == 0
    assert result.running.started_at == berlin("2026-11-25 10:00")


def test_close_without_a_running_segment_returns_nothing() -> None:
    """A session that saw no frame has nothing to close."""
    assert tracker().close("s", berlin("2026-11-25 10:00")) == []


def test_restored_segment_continues_after_a_restart() -> None:
    """A running segment read back from the store keeps its id, start and counts."""
    before = tracker()
    before.track("s", "Chemistry", berlin("2026-11-25 10:00"), ACTIVE)
    stored = before.track("s", "Chemistry", berlin("2026-11-25 10:10"), ACTIVE).running

    after = tracker()
    after.restore(stored)
    result = after.track("s", "Chemistry", berlin("2026-11-25 10:20"), PASSIVE)
    assert result.running.segment_id == stored.segment_id
    [closed] = after.close("s", berlin("2026-11-25 10:30"))
    assert closed.seconds == 1800
    assert (closed.active_count, closed.passive_count) == (2, 1)


def test_restore_refuses_a_closed_segment() -> None:
    """Only running segments can be restored."""
    closed = Segment(
        segment_id="x",
        session_id="s",
        topic="Math",
        day=date(2026, 11, 25),
        started_at=berlin("2026-11-25 10:00"),
        last_seen_at=berlin("2026-11-25 10:00"),
        ended_at=berlin("2026-11-25 10:00") + timedelta(minutes=1),
    )
    with pytest.raises(ValueError, match="running"):
        tracker().restore(closed)
