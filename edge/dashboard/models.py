"""Wire models of the dashboard's own routes."""

from __future__ import annotations

from datetime import date

from shared.analysis import FrameAnalysis
from shared.schemas import DayTopicStats, SessionSummary, Timestamp, WireModel


class SegmentView(WireModel):
    """One stretch of one topic on the session timeline."""

    topic: str
    started_at: Timestamp
    until: Timestamp
    running: bool
    seconds: int


class CurrentSession(WireModel):
    """The running session and its timeline."""

    session_id: str
    started_at: Timestamp
    segments: list[SegmentView]


class Split(WireModel):
    """Frames of the day by how the student worked."""

    active: int
    passive: int
    distracted: int


class TodayBoard(WireModel):
    """Everything the Today page shows."""

    date: date
    #: The daemon's clock, so the page can keep the running session ticking without skew.
    now: Timestamp
    stats: DayTopicStats
    split: Split
    current: CurrentSession | None
    help_requests: int


class FrameView(WireModel):
    """One recent frame with what was seen in it."""

    analysis_id: str
    session_id: str
    captured_at: Timestamp
    image_url: str | None
    outcome: str
    source: str | None
    #: How sure the analyser was, 0-1; null when it cannot say or the frame failed.
    confidence: float | None
    analysis: FrameAnalysis | None
    bookmarked: bool


class FrameList(WireModel):
    """The latest frames, newest first."""

    frames: list[FrameView]


class SessionList(WireModel):
    """The latest sessions with their totals, newest first."""

    sessions: list[SessionSummary]


class DeviceView(WireModel):
    """A paired phone."""

    device_id: str
    name: str
    created_at: Timestamp
    revoked_at: Timestamp | None
    #: "owner", or the device whose code let this one in; null if paired before roles existed.
    paired_by: str | None


class DeviceRevoked(WireModel):
    """A phone was revoked, with every device it had let in."""

    device_id: str
    revoked: bool
    also_revoked: list[str]


class DeviceList(WireModel):
    """The paired phones, newest first."""

    devices: list[DeviceView]


class PairingOffer(WireModel):
    """A fresh pairing code, and the same as a QR code the phone can scan."""

    code: str
    expires_at: Timestamp
    pair_url: str
    qr_svg: str
