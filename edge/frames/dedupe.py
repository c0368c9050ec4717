"""The near-duplicate gate: an unchanged view reuses the last analysis instead of a model call."""

from __future__ import annotations

from dataclasses import dataclass

from edge.frames.images import hamming
from shared.analysis import FrameAnalysis


@dataclass(frozen=True)
class Analysed:
    """The last frame of a session that the model actually looked at."""

    dhash: int
    analysis: FrameAnalysis
    source: str
    confidence: float | None = None


class DuplicateGate:
    """Remembers each session's last analysed frame; pure, no I/O.

    New frames are compared with the last *analysed* one, not the last seen, so a slow drift
    (a page turned a little at a time) still triggers a fresh analysis.
    """

    #: Sessions remembered; one student has one running session, so a few is plenty.
    MAX_SESSIONS = 32

    def __init__(self, max_distance: int, enabled: bool = True) -> None:
        self.max_distance = max_distance
        self.enabled = enabled
        self._last: dict[str, Analysed] = {}

    def match(self, session_id: str, dhash: int) -> Analysed | None:
        """Return the last analysis if this frame looks the same as that one."""
        last = self._last.get(session_id)
        if not self.enabled or last is None:
            return None
        return last if hamming(last.dhash, dhash) <= self.max_distance else None

    def remember(
        self,
        session_id: str,
        dhash: int,
        analysis: FrameAnalysis,
        source: str,
        confidence: float | None = None,
    ) -> None:
        """Record a frame the model analysed (forgetting the longest-unused session past a few)."""
        self._last.pop(session_id, None)
        self._last[session_id] = Analysed(dhash, analysis, source, confidence)
        while len(self._last) > self.MAX_SESSIONS:
            self._last.pop(next(iter(self._last)))

    def forget(self, session_id: str) -> None:
        """Drop a session (it ended)."""
        self._last.pop(session_id, None)
