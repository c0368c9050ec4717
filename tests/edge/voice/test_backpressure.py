"""BoundedBuffer: drop the oldest audio past the soft limit, fail a stuck peer past the hard one."""

from __future__ import annotations

import pytest

from edge.voice.backpressure import Backpressure, BoundedBuffer


def drain(buffer: BoundedBuffer[str]) -> list[str]:
    """Take everything, oldest first."""
    items = []
    while (item := buffer.take()) is not None:
        items.append(item)
    return items


def test_keeps_everything_up_to_the_soft_limit() -> None:
    """At exactly the soft limit nothing is dropped."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=12, hard=100)
    for name in "abc":
        buffer.put(name, 4)
    assert (buffer.size, buffer.dropped, drain(buffer)) == (12, 0, ["a", "b", "c"])


def test_drops_the_oldest_audio_past_the_soft_limit_and_counts_it() -> None:
    """Past the soft limit the oldest audio goes; drops are counted in items and bytes."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=10, hard=100)
    for name in "abcde":
        buffer.put(name, 4)
    assert (buffer.dropped, buffer.dropped_bytes, buffer.size) == (3, 12, 8)
    assert drain(buffer) == ["d", "e"]


def test_never_drops_the_newest_item() -> None:
    """An item larger than the soft limit on its own is kept."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=10, hard=100)
    buffer.put("a", 4)
    buffer.put("big", 50)
    assert (buffer.dropped, drain(buffer)) == (1, ["big"])


def test_never_drops_control_items_and_keeps_their_order() -> None:
    """Non-droppable items survive the soft limit, in order among the audio."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=8, hard=100)
    buffer.put("a", 4)
    buffer.put("EVENT1", 0, droppable=False)
    buffer.put("b", 4)
    buffer.put("EVENT2", 6, droppable=False)
    buffer.put("c", 4)
    assert drain(buffer) == ["EVENT1", "EVENT2", "c"]
    assert buffer.dropped == 2


def test_raises_backpressure_past_the_hard_limit_without_a_take() -> None:
    """More than `hard` bytes put since the last take is Backpressure (exactly `hard` is not)."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=10, hard=20)
    for name in "abcde":
        buffer.put(name, 4)  # 20 bytes: at the limit
    with pytest.raises(Backpressure):
        buffer.put("f", 4)


def test_dropped_audio_still_counts_toward_the_hard_limit() -> None:
    """Dropping keeps memory bounded but does not hide a stuck consumer."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=4, hard=10)
    buffer.put("a", 4)
    buffer.put("b", 4)
    assert buffer.size == 4
    with pytest.raises(Backpressure):
        buffer.put("c", 4)


def test_a_take_resets_the_hard_limit_count() -> None:
    """A consumer that takes anything has made progress: the count starts again."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=20, hard=20)
    for _ in range(5):
        buffer.put("x", 4)
    assert buffer.take() == "x"
    for _ in range(5):
        buffer.put("y", 4)  # 20 more bytes since the take: at the limit, not past it
    assert buffer.size == 20


def test_take_of_an_empty_buffer_is_none() -> None:
    """An empty buffer gives None."""
    assert BoundedBuffer[str](soft=1, hard=1).take() is None


def test_clear_audio_keeps_control_items() -> None:
    """Barge-in clears the audio, keeps the events, and says how many bytes went."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=100, hard=1000)
    buffer.put("a", 4)
    buffer.put("EVENT", 2, droppable=False)
    buffer.put("b", 4)
    assert buffer.clear_audio() == 8
    assert (buffer.size, len(buffer)) == (2, 1)
    assert drain(buffer) == ["EVENT"]


@pytest.mark.parametrize(("soft", "hard"), [(0, 10), (-1, 10), (11, 10)])
def test_constructor_refuses_inconsistent_limits(soft: int, hard: int) -> None:
    """`0 < soft <= hard` is required."""
    with pytest.raises(ValueError, match="soft"):
        BoundedBuffer[str](soft=soft, hard=hard)


def test_equal_soft_and_hard_limits_are_allowed() -> None:
    """`soft == hard` is a valid configuration."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=10, hard=10)
    assert (buffer.soft, buffer.hard) == (10, 10)
