"""What the tutor said and the phone played: the arithmetic behind barge-in. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from edge.voice.audio import MODEL_RATE, pcm16_duration_ms


@dataclass(frozen=True)
class Truncation:
    """Cut an assistant item at `audio_end_ms`, where the student interrupted it."""

    item_id: str
    audio_end_ms: int


class PlaybackTracker:
    """Audio sent per assistant item, the phone's playback reports, and the active response."""

    def __init__(self) -> None:
        self._sent_ms: dict[str, float] = {}
        self._played_ms: dict[str, int] = {}
        self._truncated: set[str] = set()
        self.current_item: str | None = None
        self.active_response: str | None = None

    def sent(self, item_id: str, pcm_bytes: int) -> None:
        """Audio of an item went to the phone."""
        self._sent_ms[item_id] = self._sent_ms.get(item_id, 0.0) + pcm16_duration_ms(
            pcm_bytes, MODEL_RATE
        )
        self.current_item = item_id

    def sent_ms(self, item_id: str) -> float:
        """Milliseconds of an item's audio sent so far."""
        return self._sent_ms.get(item_id, 0.0)

    def played(self, item_id: str | None, played_ms: int) -> None:
        """The phone reports how much it played (of the current item when it names none)."""
        item = item_id or self.current_item
        if item is not None:
            self._played_ms[item] = max(played_ms, self._played_ms.get(item, 0))

    def response_started(self, response_id: str) -> None:
        """The model began a response."""
        self.active_response = response_id

    def response_ended(self, response_id: str | None) -> None:
        """A response is done (completed, cancelled or failed)."""
        if response_id is None or response_id == self.active_response:
            self.active_response = None

    def interrupt(self) -> Truncation | None:
        """The student spoke: where to cut the current item, if anywhere.

        At what the phone has actually played when it reported, else at what was sent; never
        beyond what was sent (the API rejects that), never for an item with nothing played, and
        once per item.
        """
        item = self.current_item
        if item is None or item in self._truncated:
            return None
        sent = int(self.sent_ms(item))
        played = self._played_ms.get(item)
        end = min(played if played is not None else sent, sent)
        if end <= 0:
            return None
        self._truncated.add(item)
        return Truncation(item_id=item, audio_end_ms=end)
