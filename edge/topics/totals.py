"""Adding time up into topic totals, most time first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from edge.topics.tracker import Segment
from shared.schemas import TopicStat


def _unused_id() -> str:
    return "live"


def as_of(segments: Iterable[Segment], now: datetime, zone: tzinfo) -> list[Segment]:
    """Return closed segments as they are and running ones closed at `now`, split by day."""
    out: list[Segment] = []
    for segment in segments:
        if segment.ended_at is None:
            # Pieces made for a read are never stored, so they need no real ids.
            out.extend(segment.pieces_until(now, zone, _unused_id))
        else:
            out.append(segment)
    return out


@dataclass
class _Line:
    seconds: float = 0.0
    active: int = 0
    passive: int = 0
    distracted: int = 0


class Tally:
    """Accumulates time and frame counts per topic."""

    def __init__(self) -> None:
        self._lines: dict[str, _Line] = {}

    def add(
        self, topic: str, seconds: float, active: int = 0, passive: int = 0, distracted: int = 0
    ) -> None:
        """Add time and frames to a topic."""
        line = self._lines.setdefault(topic, _Line())
        line.seconds += seconds
        line.active += active
        line.passive += passive
        line.distracted += distracted

    def add_segments(self, segments: Iterable[Segment]) -> Tally:
        """Add closed segments; return self for chaining."""
        for s in segments:
            self.add(s.topic, s.seconds, s.active_count, s.passive_count, s.distracted_count)
        return self

    def merge(self, other: Tally) -> Tally:
        """Add another tally's lines; return self for chaining."""
        for topic, line in other._lines.items():
            self.add(topic, line.seconds, line.active, line.passive, line.distracted)
        return self

    @property
    def total_seconds(self) -> int:
        """Whole seconds over all topics."""
        return round(sum(line.seconds for line in self._lines.values()))

    @property
    def total_frames(self) -> int:
        """Frames analysed over all topics."""
        return sum(line.active + line.passive for line in self._lines.values())

    def stats(self) -> list[TopicStat]:
        """Per-topic totals, most time first, ties by name."""
        stats = [
            TopicStat(
                topic=topic,
                duration_seconds=round(line.seconds),
                active_count=line.active,
                passive_count=line.passive,
                distracted_count=line.distracted,
            )
            for topic, line in self._lines.items()
        ]
        return sorted(stats, key=lambda stat: (-stat.duration_seconds, stat.topic))
