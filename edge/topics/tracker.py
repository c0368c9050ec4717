"""The topic tracker: which topic each session is on, and the segments that topic changes close.

Pure logic, no I/O. The caller persists what `track` and `close` return; the tracker only keeps
the running segment of each active session in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo

from shared.clock import local_date, next_midnight
from shared.topics import canonical_topic


@dataclass(frozen=True)
class FrameFlags:
    """What one analysed frame said about the student's engagement."""

    active: bool
    distracted: bool


@dataclass(frozen=True)
class Segment:
    """A stretch of one topic in one session within one local day.

    `ended_at` is None while it runs; counts are of the frames seen during it.
    """

    segment_id: str
    session_id: str
    topic: str
    day: date
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    active_count: int = 0
    passive_count: int = 0
    distracted_count: int = 0

    @property
    def seconds(self) -> float:
        """Length of a closed segment."""
        if self.ended_at is None:
            raise ValueError("a running segment has no length yet; use pieces_until")
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def frames(self) -> int:
        """Frames analysed during the segment."""
        return self.active_count + self.passive_count

    def counted(self, flags: FrameFlags, at: datetime) -> Segment:
        """Return this segment with one more frame counted."""
        return replace(
            self,
            last_seen_at=max(self.last_seen_at, at),
            active_count=self.active_count + flags.active,
            passive_count=self.passive_count + (not flags.active),
            distracted_count=self.distracted_count + flags.distracted,
        )

    def pieces_until(self, end: datetime, zone: tzinfo, new_id: Callable[[], str]) -> list[Segment]:
        """Close this segment at `end`, split at every local midnight it crosses.

        The first piece keeps this segment's id and counts: frames are counted as they arrive,
        and a frame after midnight would already have rolled the segment over.
        """
        end = max(end, self.started_at)
        pieces: list[Segment] = []
        start, segment_id = self.started_at, self.segment_id
        while True:
            midnight = next_midnight(start, zone)
            stop = min(end, midnight)
            first = not pieces
            pieces.append(
                Segment(
                    segment_id=segment_id,
                    session_id=self.session_id,
                    topic=self.topic,
                    day=local_date(start, zone),
                    started_at=start,
                    last_seen_at=min(self.last_seen_at, stop) if first else stop,
                    ended_at=stop,
                    active_count=self.active_count if first else 0,
                    passive_count=self.passive_count if first else 0,
                    distracted_count=self.distracted_count if first else 0,
                )
            )
            if end <= midnight:
                return pieces
            start, segment_id = midnight, new_id()


@dataclass(frozen=True)
class TrackResult:
    """What one `track` call changed: segments to store as closed, and the running one."""

    closed: list[Segment]
    running: Segment
    topic_changed: bool


def _new_id() -> str:
    return str(uuid.uuid4())


class TopicTracker:
    """Keeps the running topic segment of each active session in memory."""

    def __init__(self, zone: tzinfo, new_id: Callable[[], str] = _new_id) -> None:
        self.zone = zone
        self._new_id = new_id
        self._running: dict[str, Segment] = {}

    def restore(self, segment: Segment) -> None:
        """Resume a running segment read back from the store after a restart."""
        if segment.ended_at is not None:
            raise ValueError("only a running segment can be restored")
        self._running[segment.session_id] = segment

    def running(self, session_id: str) -> Segment | None:
        """Return the running segment of a session, if it has one."""
        return self._running.get(session_id)

    def track(
        self, session_id: str, topic: str | None, at: datetime, flags: FrameFlags
    ) -> TrackResult:
        """Record that a frame at `at` showed `topic`; blank or missing topics are `Unknown`."""
        name = canonical_topic(topic)
        current = self._running.get(session_id)
        closed: list[Segment] = []
        if current is not None:
            # Clocks step backwards (NTP); never let a segment end before it started.
            at = max(at, current.last_seen_at)
            if local_date(at, self.zone) != current.day:
                *before_midnight, current = current.pieces_until(at, self.zone, self._new_id)
                closed.extend(before_midnight)
                current = replace(current, ended_at=None, last_seen_at=current.started_at)
        changed = current is None or current.topic != name
        if current is not None and changed:
            closed.extend(current.pieces_until(at, self.zone, self._new_id))
        if current is None or changed:
            current = Segment(
                segment_id=self._new_id(),
                session_id=session_id,
                topic=name,
                day=local_date(at, self.zone),
                started_at=at,
                last_seen_at=at,
            )
        current = current.counted(flags, at)
        self._running[session_id] = current
        return TrackResult(closed=closed, running=current, topic_changed=changed)

    def close(self, session_id: str, at: datetime) -> list[Segment]:
        """End the session's running segment at `at`; return its closed pieces (maybe none)."""
        current = self._running.pop(session_id, None)
        if current is None:
            return []
        return current.pieces_until(max(at, current.started_at), self.zone, self._new_id)
