"""BoundedBuffer contracts at the soft limit's exact boundary."""

from __future__ import annotations

from edge.voice.backpressure import BoundedBuffer


def test_dropping_stops_once_the_buffer_is_back_at_the_soft_limit() -> None:
    """Oldest-first dropping stops as soon as the size is no longer above the soft limit."""
    buffer: BoundedBuffer[str] = BoundedBuffer(soft=10, hard=100)
    buffer.put("a", 4)
    buffer.put("b", 6)
    buffer.put("c", 4)  # 14 > 10: dropping "a" brings it to exactly 10, which is kept
    assert [buffer.take(), buffer.take(), buffer.take()] == ["b", "c", None]
    assert buffer.dropped == 1
    assert buffer.dropped_bytes == 4
