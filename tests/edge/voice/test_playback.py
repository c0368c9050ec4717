"""PlaybackTracker: where barge-in cuts the tutor's item, and which response is active."""

from __future__ import annotations

from edge.voice.playback import PlaybackTracker, Truncation

MS = 48  # bytes of PCM16 24 kHz mono per millisecond


def tracker_with(item: str = "item_a", sent_ms: int = 1000) -> PlaybackTracker:
    """A tracker that has sent `sent_ms` of `item` to the phone."""
    tracker = PlaybackTracker()
    tracker.sent(item, sent_ms * MS)
    return tracker


def test_sent_audio_is_counted_in_milliseconds_per_item() -> None:
    """Sent bytes add up per item as PCM16 24 kHz milliseconds."""
    tracker = tracker_with("item_a", 300)
    tracker.sent("item_a", 200 * MS)
    tracker.sent("item_b", 50 * MS)
    assert (tracker.sent_ms("item_a"), tracker.sent_ms("item_b")) == (500.0, 50.0)
    assert tracker.sent_ms("item_c") == 0.0
    assert tracker.current_item == "item_b"


def test_truncates_at_what_the_phone_played() -> None:
    """With a playback report, the cut is at the played milliseconds."""
    tracker = tracker_with(sent_ms=1000)
    tracker.played(None, 200)
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=200)


def test_truncates_at_what_was_sent_without_a_report() -> None:
    """Without a playback report, the cut is at the audio sent so far."""
    tracker = tracker_with(sent_ms=750)
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=750)


def test_never_truncates_beyond_what_was_sent() -> None:
    """A report past the item's sent audio is capped at the sent length."""
    tracker = tracker_with(sent_ms=400)
    tracker.played(None, 5000)
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=400)


def test_fractional_sent_audio_is_cut_down_to_whole_milliseconds() -> None:
    """A sent length between milliseconds is rounded down, never up past the audio."""
    tracker = PlaybackTracker()
    tracker.sent("item_a", 10 * MS + 30)  # 10.625 ms
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=10)


def test_no_truncation_when_nothing_was_played() -> None:
    """A report of 0 ms played means no cut (the API rejects an empty truncation)."""
    tracker = tracker_with(sent_ms=1000)
    tracker.played(None, 0)
    assert tracker.interrupt() is None


def test_no_truncation_without_any_assistant_audio() -> None:
    """Speech before the tutor said anything cuts nothing."""
    assert PlaybackTracker().interrupt() is None


def test_truncates_each_item_once() -> None:
    """A second barge-in on the same item cuts nothing; a new item is cut again."""
    tracker = tracker_with("item_a", 500)
    assert tracker.interrupt() is not None
    tracker.sent("item_a", 100 * MS)
    assert tracker.interrupt() is None
    tracker.sent("item_b", 300 * MS)
    assert tracker.interrupt() == Truncation(item_id="item_b", audio_end_ms=300)


def test_playback_reports_never_go_backwards() -> None:
    """A later, smaller report does not move the played position back."""
    tracker = tracker_with(sent_ms=1000)
    tracker.played(None, 600)
    tracker.played(None, 100)
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=600)


def test_a_report_naming_an_item_applies_to_that_item() -> None:
    """`itemId` in a report targets that item, not the current one."""
    tracker = tracker_with("item_a", 1000)
    tracker.sent("item_b", 800 * MS)
    tracker.played("item_a", 300)
    assert tracker.interrupt() == Truncation(item_id="item_b", audio_end_ms=800)


def test_a_report_before_any_audio_is_ignored() -> None:
    """A report with no current item changes nothing."""
    tracker = PlaybackTracker()
    tracker.played(None, 300)
    tracker.sent("item_a", 1000 * MS)
    assert tracker.interrupt() == Truncation(item_id="item_a", audio_end_ms=1000)


def test_response_start_and_end_track_the_active_response() -> None:
    """`response_started` sets the active response; its own end clears it."""
    tracker = PlaybackTracker()
    tracker.response_started("resp_1")
    assert tracker.active_response == "resp_1"
    tracker.response_ended("resp_1")
    assert tracker.active_response is None


def test_the_end_of_another_response_keeps_the_active_one() -> None:
    """`response.done` of an older response leaves the active one alone."""
    tracker = PlaybackTracker()
    tracker.response_started("resp_2")
    tracker.response_ended("resp_1")
    assert tracker.active_response == "resp_2"


def test_ending_without_an_id_clears_the_active_response() -> None:
    """`response_ended(None)` (a new connection) forgets any active response."""
    tracker = PlaybackTracker()
    tracker.response_started("resp_1")
    tracker.response_ended(None)
    assert tracker.active_response is None
