"""Tracker boundaries: local midnight exactly, the pieces of a split, when a topic was last seen."""

from __future__ import annotations

from datetime import date
from itertools import count

from edge.topics.tracker import FrameFlags, TopicTracker
from tests.support import ACTIVE, ZONE, berlin

PASSIVE = FrameFlags(active=False, distracted=False)
DISTRACTED = FrameFlags(active=False, distracted=True)


def tracker() -> TopicTracker:
    """A tracker in Berlin time with predictable segment ids."""
    ids = count(1)
    return TopicTracker(ZONE, new_id=lambda: f"seg-{next(ids)}")


def test_closed_segment_was_last_seen_at_its_last_frame() -> None:
    """Closing later than the last frame keeps `last_seen_at` at that frame, not at the close."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 10:00"), ACTIVE)
    t.track("s", "Biology", berlin("2026-11-25 10:05"), ACTIVE)

    [closed] = t.close("s", berlin("2026-11-25 10:30"))

    assert closed.last_seen_at == berlin("2026-11-25 10:05")


def test_every_piece_of_a_split_is_last_seen_within_itself() -> None:
    """Each piece of a segment split at midnight has `last_seen_at` between its start and end."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:50"), ACTIVE)

    pieces = t.close("s", berlin("2026-11-26 00:10"))

    assert len(pieces) == 2
    assert all(
        p.ended_at is not None and p.started_at <= p.last_seen_at <= p.ended_at for p in pieces
    )


def test_pieces_after_midnight_count_no_passive_or_distracted_frames() -> None:
    """Frames counted before midnight stay on the first piece; the next day's piece has none."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:50"), PASSIVE)
    t.track("s", "Biology", berlin("2026-11-25 23:55"), DISTRACTED)

    first, second = t.close("s", berlin("2026-11-26 00:10"))

    assert (first.passive_count, first.distracted_count) == (2, 1)
    assert (second.active_count, second.passive_count, second.distracted_count) == (0, 0, 0)


def test_segment_closed_exactly_at_midnight_is_one_piece() -> None:
    """A close at 00:00 sharp ends the day's piece and opens no empty piece on the next day."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:50"), ACTIVE)

    pieces = t.close("s", berlin("2026-11-26 00:00"))

    assert [(p.day, p.seconds) for p in pieces] == [(date(2026, 11, 25), 600)]


def test_segment_rolled_over_midnight_keeps_running() -> None:
    """The same topic after midnight leaves a running segment (no end) on the new day."""
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:59"), ACTIVE)

    result = t.track("s", "Biology", berlin("2026-11-26 00:01"), ACTIVE)

    assert result.running.ended_at is None
    assert t.running("s") == result.running


def test_topic_left_after_midnight_holds_no_frame_on_the_new_day() -> None:
    """A topic carried over midnight, then left, was last seen at midnight on the new day.

    None of its frames fell on that day; the new topic's frame is not one of them.
    """
    t = tracker()
    t.track("s", "Biology", berlin("2026-11-25 23:59"), ACTIVE)

    result = t.track("s", "Math", berlin("2026-11-26 00:02"), ACTIVE)

    new_day = result.closed[-1]
    assert (new_day.day, new_day.last_seen_at) == (date(2026, 11, 26), berlin("2026-11-26 00:00"))


def test_first_frame_after_local_midnight_is_dated_by_the_local_day() -> None:
    """A segment starting at 00:30 Berlin (still yesterday in UTC) belongs to the local day."""
    result = tracker().track("s", "Biology", berlin("2026-11-25 00:30"), ACTIVE)

    assert result.running.day == date(2026, 11, 25)
