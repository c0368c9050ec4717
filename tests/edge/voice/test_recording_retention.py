"""Voice recordings are kept `voice_recording_retention_days` (7) and then deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.voice.recording import expired, prune_recordings, stamp
from tests.edge.voice.voice_support import eventually
from tests.support import FakeClock, StartApp, services_of

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def recording_names(session: str, at: datetime) -> list[str]:
    """The two files of one recording, as the recorder names them."""
    return [f"{session}-{stamp(at)}-input.wav", f"{session}-{stamp(at)}-output.wav"]


def test_a_recording_older_than_the_retention_is_expired() -> None:
    """Both files of a recording made 7 days and a second ago go; one of 6 days stays."""
    old = recording_names("s1", NOW - timedelta(days=7, seconds=1))
    recent = recording_names("s2", NOW - timedelta(days=6))
    assert expired(old + recent, NOW, days=7) == old


def test_a_recording_of_exactly_the_retention_is_kept() -> None:
    """Seven days to the second is not older than seven days."""
    assert expired(recording_names("s1", NOW - timedelta(days=7)), NOW, days=7) == []


@pytest.mark.parametrize(
    "name", ["notes.txt", "s1-input.wav", "s1-20261101T000000Z-input.mp3", "20261101T000000Z.wav"]
)
def test_files_that_are_not_recordings_are_never_expired(name: str) -> None:
    """Anything not named as the recorder names its files stays, however old it looks."""
    assert expired([name], NOW, days=1) == []


def test_prune_deletes_the_expired_files_only(tmp_path: Path) -> None:
    """The folder keeps the recent recording and the foreign file; the old one is gone."""
    old = recording_names("s1", NOW - timedelta(days=30))
    keep = [*recording_names("s2", NOW - timedelta(hours=1)), "notes.txt"]
    for name in old + keep:
        (tmp_path / name).write_bytes(b"RIFF")
    assert prune_recordings(tmp_path, NOW, days=7) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_prune_of_a_missing_folder_is_nothing(tmp_path: Path) -> None:
    """No recordings folder yet (recording never on): nothing to do, no error."""
    assert prune_recordings(tmp_path / "recordings", NOW, days=7) == 0


async def test_the_daemon_prunes_old_recordings_when_it_starts(
    start_app: StartApp, clock: FakeClock
) -> None:
    """At start the daemon deletes recordings past voice_recording_retention_days."""
    client = await start_app(voice_recording_retention_days=3)
    folder = services_of(client).settings.data_dir / "recordings"
    await client.close()
    folder.mkdir(exist_ok=True)
    old = recording_names("s1", clock.now() - timedelta(days=4))
    recent = recording_names("s2", clock.now() - timedelta(days=2))
    for name in old + recent:
        (folder / name).write_bytes(b"RIFF")
    await start_app(voice_recording_retention_days=3)
    await eventually(
        lambda: sorted(p.name for p in folder.iterdir()) == sorted(recent),
        what="the old recording was deleted and the recent one kept",
    )
