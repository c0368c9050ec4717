"""The pause's pure rules and its store seam, without the daemon."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from edge.errors import InvalidRequest
from edge.privacy.pause import MAX_MINUTES, clear_pause, pause_end, read_state, write_pause
from edge.store import open_database
from tests.support import FakeClock


@pytest.mark.parametrize("minutes", [0, -1, MAX_MINUTES + 1, True])
def test_a_pause_end_out_of_range_is_refused(clock: FakeClock, minutes: int) -> None:
    """The same bounds as the HTTP body, for callers that skip it (the CLI, tests)."""
    with pytest.raises(InvalidRequest):
        pause_end(clock.now(), minutes)


def test_the_stored_pause_ends_at_its_minute(tmp_path: Path, clock: FakeClock) -> None:
    """Written, it holds until its end; at the end it is none; cleared, it is none."""
    with closing(open_database(tmp_path / "studylens.db")) as db:
        written = write_pause(db, clock.now(), 2)
        assert read_state(db, clock.now() + timedelta(seconds=119)) == written
        assert not read_state(db, clock.now() + timedelta(minutes=2)).paused
        write_pause(db, clock.now(), None)
        assert read_state(db, clock.now() + timedelta(days=365)).paused
        clear_pause(db)
        assert not read_state(db, clock.now()).paused
