"""Time formatting shared by edge and cloud."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.clock import from_iso, local_date, next_midnight, to_iso
from tests.support import ZONE, berlin


def test_to_iso_is_fixed_width_utc_with_milliseconds() -> None:
    """Stored times sort as text: same width, UTC, `Z`."""
    assert to_iso(berlin("2026-11-25 10:00:01.5")) == "2026-11-25T09:00:01.500Z"


def test_to_iso_refuses_naive_datetimes() -> None:
    """A time without a zone is ambiguous and rejected."""
    with pytest.raises(ValueError, match="naive"):
        to_iso(datetime(2026, 11, 25, 10, 0))  # noqa: DTZ001


def test_from_iso_round_trips() -> None:
    """What to_iso writes, from_iso reads back."""
    moment = datetime(2026, 11, 25, 9, 0, 1, 123000, tzinfo=UTC)
    assert from_iso(to_iso(moment)) == moment


def test_from_iso_refuses_text_without_offset() -> None:
    """Stored times always carry their offset."""
    with pytest.raises(ValueError, match="offset"):
        from_iso("2026-11-25T09:00:00")


def test_local_date_uses_the_students_zone() -> None:
    """23:30 UTC is already tomorrow in Berlin."""
    assert local_date(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), ZONE) == date(2026, 11, 26)


def test_next_midnight_is_local_midnight() -> None:
    """The next midnight after 22:00 Berlin is 00:00 Berlin, 23:00 UTC."""
    assert next_midnight(berlin("2026-11-25 22:00"), ZONE) == datetime(
        2026, 11, 25, 23, 0, tzinfo=UTC
    )
