"""Time as both sides write it: aware UTC datetimes, ISO 8601 text with a `Z` and milliseconds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    """Where the current time comes from; injected so tests can move time by hand."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """Format an aware datetime as fixed-width UTC text, so stored values sort as text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware one")
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def from_iso(text: str) -> datetime:
    """Parse text from `to_iso` (or any ISO 8601 with an offset) into an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return moment.astimezone(UTC)


def local_date(moment: datetime, zone: tzinfo) -> date:
    """Return the calendar date of `moment` in the student's time zone."""
    return moment.astimezone(zone).date()


def start_of_day(day: date, zone: tzinfo) -> datetime:
    """Return local midnight at the start of `day` as an aware UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def next_midnight(moment: datetime, zone: tzinfo) -> datetime:
    """Return the first local midnight strictly after `moment`, in UTC."""
    return start_of_day(local_date(moment, zone) + timedelta(days=1), zone)
