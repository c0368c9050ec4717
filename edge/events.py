"""Live events for the dashboard: a small publish/subscribe bus with bounded queues.

A slow or vanished browser must never hold the daemon up: each subscriber has its own bounded
queue, and when it is full the oldest event is dropped (the page refetches on the next one).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from edge.frames.records import FrameEvent
from shared.schemas import WireModel

#: Events a subscriber may fall behind by before the oldest are dropped.
QUEUE_SIZE = 100


@dataclass(frozen=True)
class Event:
    """One thing that happened: its kind, a sequence number, and a JSON-ready payload."""

    kind: str
    seq: int
    data: dict[str, Any]


class Subscription:
    """One subscriber's view of the bus."""

    def __init__(self, queue: asyncio.Queue[Event | None]) -> None:
        self._queue = queue
        self.ended = False

    async def next(self, within: float) -> Event | None:
        """The next event, or None when none came `within` seconds or the stream ended."""
        if self.ended:
            return None
        try:
            event = await asyncio.wait_for(self._queue.get(), within)
        except TimeoutError:
            return None
        if event is None:
            self.ended = True
        return event


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

    @contextmanager
    def subscribe(self, device_id: str | None = None) -> Iterator[Subscription]:
        """Events from now on, for as long as the block runs (`device_id`: whose stream)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self._queues[queue] = device_id
        try:
            yield Subscription(queue)
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

    async def on_pause(self, state: WireModel) -> None:
        """Pause listener: announce that capture was paused, re-timed or resumed."""
        self.publish("pause", state.model_dump(mode="json", by_alias=True))

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
