"""Live events for the dashboard: a small publish/subscribe bus with bounded queues.

A slow or vanished browser must never hold the daemon up: each subscriber has its own bounded
queue, and when it is full the oldest event is dropped (the page refetches on the next one).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from edge.frames.records import FrameEvent

#: Events a subscriber may fall behind by before the oldest are dropped.
QUEUE_SIZE = 100


@dataclass(frozen=True)
class Event:
    """One thing that happened: its kind, a sequence number, and a JSON-ready payload."""

    kind: str
    seq: int
    data: dict[str, Any]


class EventBus:
    """Fan-out of daemon events to every open dashboard."""

    def __init__(self) -> None:
        #: Each subscriber's queue, and the device it streams to (None: the owner).
        self._queues: dict[asyncio.Queue[Event | None], str | None] = {}
        self._seq = itertools.count(1)
        self.dropped = 0

    @property
    def subscribers(self) -> int:
        """Dashboards listening now."""
        return len(self._queues)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Hand an event to every subscriber without waiting for any."""
        event = Event(kind, next(self._seq), data)
        for queue in self._queues:
            if queue.qsize() >= QUEUE_SIZE:
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(event)

    async def subscribe(self, device_id: str | None = None) -> AsyncGenerator[Event, None]:
        """Events from now on, until the consumer stops, the bus closes or the device is revoked."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self._queues[queue] = device_id
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._queues.pop(queue, None)

    async def on_frame(self, event: FrameEvent) -> None:
        """Frame-pipeline hook: announce the frame and what it showed."""
        analysis = event.analysis
        self.publish(
            "frame",
            {
                "analysisId": event.event_id,
                "sessionId": event.session_id,
                "topic": analysis.topic if analysis else None,
                "outcome": event.outcome,
            },
        )

    def on_session(self, change: str, session_id: str) -> None:
        """Session listener: announce a start or an end."""
        self.publish("session", {"change": change, "sessionId": session_id})

    def close(self) -> None:
        """End every subscription (the daemon is shutting down)."""
        for queue in list(self._queues):
            self._end(queue)

    def close_devices(self, device_ids: set[str]) -> None:
        """End the subscriptions of these devices (their tokens were revoked)."""
        for queue, device in list(self._queues.items()):
            if device is not None and device in device_ids:
                self._end(queue)

    @staticmethod
    def _end(queue: asyncio.Queue[Event | None]) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(None)
