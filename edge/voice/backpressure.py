"""Bounded buffers between the relay's two peers. Pure, no I/O, no asyncio."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from edge.errors import EdgeError

T = TypeVar("T")


class Backpressure(EdgeError):
    """A peer has stopped taking data: more than the hard limit arrived since it last did."""

    http_status = 503
    code = "backpressure"


@dataclass
class _Entry(Generic[T]):
    item: T
    size: int
    droppable: bool


class BoundedBuffer(Generic[T]):
    """A FIFO of sized items between a producer and a slower consumer.

    Audio is dropped oldest-first past `soft` bytes; if more than `hard` bytes arrive while the
    consumer takes nothing, the peer is stuck (`Backpressure`). Control items
    (droppable=False) are never dropped and keep their order among the audio.
    """

    def __init__(self, soft: int, hard: int) -> None:
        if not 0 < soft <= hard:
            raise ValueError("need 0 < soft <= hard")
        self.soft = soft
        self.hard = hard
        self._entries: deque[_Entry[T]] = deque()
        self.size = 0
        self.dropped = 0
        self.dropped_bytes = 0
        self._since_progress = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, item: T, size: int, *, droppable: bool = True) -> None:
        """Queue an item; raise Backpressure when the consumer is stuck."""
        self._entries.append(_Entry(item, size, droppable))
        self.size += size
        self._since_progress += size
        if self._since_progress > self.hard:
            raise Backpressure(f"{self._since_progress:,} bytes queued without the peer taking any")
        if self.size > self.soft:
            self._drop_oldest_audio()

    def _drop_oldest_audio(self) -> None:
        kept: deque[_Entry[T]] = deque()
        while self._entries and self.size > self.soft:
            entry = self._entries.popleft()
            if entry.droppable and self._entries:  # never drop the newest item
                self.size -= entry.size
                self.dropped += 1
                self.dropped_bytes += entry.size
            else:
                kept.append(entry)
        kept.extend(self._entries)
        self._entries = kept

    def take(self) -> T | None:
        """The oldest item, or None when empty; taking counts as the consumer's progress."""
        if not self._entries:
            return None
        entry = self._entries.popleft()
        self.size -= entry.size
        self._since_progress = 0
        return entry.item

    def clear_audio(self) -> int:
        """Drop every queued audio item (barge-in); return how many bytes went."""
        before = self.size
        kept = deque(e for e in self._entries if not e.droppable)
        self._entries = kept
        self.size = sum(e.size for e in kept)
        return before - self.size
