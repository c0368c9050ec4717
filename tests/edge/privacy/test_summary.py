"""The Privacy page's summary, read straight from a data dir: counts, bytes, span, retention."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
import sqlite_utils

from edge.frames.originals import OriginalStore
from edge.privacy import summary
from edge.privacy.pause import NOT_PAUSED
from edge.settings import EdgeSettings
from edge.store import open_database
from tests.edge.privacy.conftest import RECORDING, Studied, originals

TODAY = date(2026, 11, 25)


@pytest.fixture
def db_of(studied: Studied) -> Iterator[sqlite_utils.Database]:
    """A connection of its own to the fixture's database."""
    with closing(open_database(studied.settings.database_path)) as db:
        yield db


def files_of(settings: EdgeSettings) -> summary.StoredFiles:
    """What the data dir holds on disk."""
    return summary.stored_files(
        settings.database_path, originals(settings), settings.recordings_path
    )


def test_the_rows_are_counted_by_kind(studied: Studied, db_of: sqlite_utils.Database) -> None:
    """Two sessions, four frames, one bookmark, two help requests, and their segments.

    And two review cards, graded three times.
    """
    rows = summary.stored_rows(db_of)

    segments = db_of.execute("SELECT count(*) FROM topic_segments").fetchone()[0]
    assert (rows.sessions, rows.learning_events, rows.bookmarks, rows.help_requests) == (2, 4, 1, 2)
    assert rows.topic_segments == segments > 0
    assert (rows.cards, rows.review_logs) == (2, 3)


def test_the_span_runs_from_the_first_start_to_the_last_activity(
    studied: Studied, db_of: sqlite_utils.Database
) -> None:
    """`oldest` is the first session's start, `newest` the latest activity of any session."""
    rows = summary.stored_rows(db_of)

    first = db_of.execute(
        "SELECT started_at FROM sessions WHERE id = ?", [studied.synced_session]
    ).fetchone()[0]
    last = db_of.execute(
        "SELECT last_activity_at FROM sessions WHERE id = ?", [studied.running_session]
    ).fetchone()[0]
    assert (rows.oldest, rows.newest) == (first, last)
    assert rows.oldest is not None
    assert rows.newest is not None
    assert rows.oldest < rows.newest


def test_an_empty_store_has_nothing_and_no_span(tmp_path: Path) -> None:
    """A new data dir: every count zero, no oldest or newest item, no folders yet."""
    with closing(open_database(tmp_path / "studylens.db")) as db:
        rows = summary.stored_rows(db)
    files = summary.stored_files(
        tmp_path / "studylens.db", OriginalStore(tmp_path / "images"), tmp_path / "recordings"
    )

    made = summary.summary(rows, files, summary.retention_of(EdgeSettings()), NOT_PAUSED, TODAY)

    assert set(made.counts.model_dump().values()) == {0}
    assert (made.oldest, made.newest) == (None, None)
    assert (made.bytes.originals, made.bytes.recordings) == (0, 0)
    assert made.bytes.database > 0


def test_each_original_on_disk_is_counted_once_with_its_bytes(studied: Studied) -> None:
    """Four frames, one sent twice: three files, the folder's bytes their sizes added up."""
    store = originals(studied.settings)
    on_disk = [p for p in store.root.rglob("*") if p.is_file()]

    found = files_of(studied.settings).originals

    assert found.items == 3 == len(on_disk)
    assert found.bytes == sum(p.stat().st_size for p in on_disk)


def test_a_file_that_is_no_original_takes_bytes_but_is_not_counted(studied: Studied) -> None:
    """A half-written temp file counts toward the folder's size, not as an image."""
    store = originals(studied.settings)
    before = files_of(studied.settings).originals
    (store.root / "ab").mkdir(exist_ok=True)
    (store.root / "ab" / ".partial-upload").write_bytes(b"x" * 1000)

    after = files_of(studied.settings).originals

    assert (after.items, after.bytes) == (before.items, before.bytes + 1000)


def test_a_link_in_the_originals_is_not_followed(studied: Studied, tmp_path: Path) -> None:
    """A symlink to a large file elsewhere adds nothing (the walk stays in the data dir)."""
    big = tmp_path / "elsewhere.bin"
    big.write_bytes(b"y" * 50_000)
    before = files_of(studied.settings).originals
    os.symlink(big, originals(studied.settings).root / "link.jpg")

    assert files_of(studied.settings).originals == before


def test_recordings_are_the_files_named_as_the_recorder_names_them(studied: Studied) -> None:
    """One recording; a stray file beside it takes bytes but is not a recording."""
    folder = studied.settings.recordings_path
    recording = studied.settings.data_dir / RECORDING.format(session=studied.synced_session)
    (folder / "notes.txt").write_bytes(b"z" * 10)

    found = files_of(studied.settings).recordings

    assert found.items == 1
    assert found.bytes == recording.stat().st_size + 10


def test_the_database_counts_its_write_ahead_log(tmp_path: Path) -> None:
    """The file, its -wal and its -shm, each when present."""
    database = tmp_path / "studylens.db"
    database.write_bytes(b"d" * 4096)
    (tmp_path / "studylens.db-wal").write_bytes(b"w" * 1000)

    assert summary.database_bytes(database) == 5096

    (tmp_path / "studylens.db-shm").write_bytes(b"s" * 32)
    assert summary.database_bytes(database) == 5128


def test_the_total_adds_database_originals_and_recordings(studied: Studied) -> None:
    """`bytes.total` is the sum of its parts."""
    with closing(open_database(studied.settings.database_path)) as db:
        rows = summary.stored_rows(db)
    files = files_of(studied.settings)

    made = summary.summary(rows, files, summary.retention_of(studied.settings), NOT_PAUSED, TODAY)

    parts = made.bytes
    assert parts.total == parts.database + parts.originals + parts.recordings
    assert parts.originals == files.originals.bytes > 0
    assert parts.recordings == files.recordings.bytes > 0


def test_the_retention_is_the_settings_in_force(settings: EdgeSettings) -> None:
    """Keep-less modes, the originals' days after upload, recording and its days."""
    chosen = settings.updated(
        keep_originals=False,
        store_extracted_text=False,
        originals_retention_days=30,
        voice_record=True,
        voice_recording_retention_days=3,
    )

    assert summary.retention_of(chosen) == summary.Retention(
        keep_originals=False,
        store_extracted_text=False,
        originals_retention_days=30,
        voice_recording=True,
        voice_recording_retention_days=3,
    )


def test_the_defaults_keep_everything_and_record_nothing(settings: EdgeSettings) -> None:
    """Out of the box: originals and text kept, originals forever, recording off (7 days)."""
    assert summary.retention_of(settings) == summary.Retention(
        keep_originals=True,
        store_extracted_text=True,
        originals_retention_days=None,
        voice_recording=False,
        voice_recording_retention_days=7,
    )


def test_the_wire_form_is_camel_case(studied: Studied) -> None:
    """The page reads `learningEvents`, `keepOriginals`, `voiceRecordingRetentionDays`, ..."""
    with closing(open_database(studied.settings.database_path)) as db:
        rows = summary.stored_rows(db)
    made = summary.summary(
        rows, files_of(studied.settings), summary.retention_of(studied.settings), NOT_PAUSED, TODAY
    )

    wire = made.model_dump(mode="json", by_alias=True)

    assert set(wire) == {"counts", "bytes", "oldest", "newest", "retention", "pause", "today"}
    assert wire["today"] == "2026-11-25"
    assert wire["counts"]["learningEvents"] == 4
    assert (wire["counts"]["cards"], wire["counts"]["reviewLogs"]) == (2, 3)
    assert wire["retention"]["voiceRecordingRetentionDays"] == 7
    assert wire["oldest"].endswith("Z")
