"""PlaybackTracker contracts at the smallest truncation."""

from __future__ import annotations

from edge.voice.playback import PlaybackTracker, Truncation

MS = 48  # bytes of PCM16 24 kHz mono per millisecond


def test_one_millisecond_played_is_truncated_at_one() -> None:
    """An item of which the phone played exactly 1 ms is cut at 1 ms, not left uncut."""
    tracker = PlaybackTracker()
    tracker.sent("item_a", 100 * MS)
    tracker.played("item_a", 1)
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=1)


def test_a_new_tracker_has_no_active_response() -> None:
    """Before any response.created there is nothing for a barge-in to cancel."""
    assert PlaybackTracker().active_response is None
