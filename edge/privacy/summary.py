"""What the edge keeps about the student, and how much: the Privacy page's summary.

Plain functions: `stored_rows` reads the database (run it on the store thread), `stored_files`
walks the data dir's folders (blocking: run it in a thread), `retention_of` reads the settings.
`PrivacySummary` puts them together for `GET /api/privacy/summary`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlite_utils

from edge.frames.originals import OriginalStore
from edge.privacy.pause import PauseState
from edge.settings import EdgeSettings
from edge.voice.recording import made_at
from shared.archive import ORIGINAL_PATH
from shared.clock import from_iso
from shared.schemas import Timestamp, WireModel

#: The database's own files: SQLite in WAL mode keeps recent commits in `-wal` until a checkpoint.
DATABASE_SUFFIXES = ("", "-wal", "-shm")


class StoredCounts(WireModel):
    """How many of each thing the edge keeps."""

    sessions: int
    learning_events: int
    topic_segments: int
    bookmarks: int
    help_requests: int
    #: Review cards made from the sessions' pages.
    cards: int
    #: Grades given to those cards, one per review.
    review_logs: int
    #: Original frame images on disk.
    originals: int
    #: Voice recording files (a recorded voice session makes two: input and output).
    recordings: int


class StoredBytes(WireModel):
    """How much disk each part takes."""

    #: The SQLite file with its WAL and shared-memory files.
    database: int
    originals: int
    recordings: int
    total: int


class Retention(WireModel):
    """The settings in force that decide what is kept, and for how long."""

    keep_originals: bool
    store_extracted_text: bool
    #: Days an original is kept once the cloud holds it; null: kept until forgotten.
    originals_retention_days: int | None
    voice_recording: bool
    voice_recording_retention_days: int


class PrivacySummary(WireModel):
    """`GET /api/privacy/summary`: what is stored, how much, since when, and what is kept."""

    counts: StoredCounts
    bytes: StoredBytes
    #: The first session's start; null when nothing is stored.
    oldest: Timestamp | None
    #: The latest session activity (a frame, help request or bookmark); null when nothing is.
    newest: Timestamp | None
    retention: Retention
    pause: PauseState
    #: The daemon's date in the student's zone: the latest day "forget before" may name.
    today: date


@dataclass(frozen=True)
class StoredRows:
    """What `stored_rows` found in the database."""

    sessions: int
    learning_events: int
    topic_segments: int
    bookmarks: int
    help_requests: int
    cards: int
    review_logs: int
    oldest: str | None
    newest: str | None


@dataclass(frozen=True)
class FolderUsage:
    """The items of one folder and the bytes of every file in it."""

    items: int
    bytes: int


@dataclass(frozen=True)
class StoredFiles:
    """What `stored_files` found on disk."""

    database_bytes: int
    originals: FolderUsage
    recordings: FolderUsage


_ROWS_SQL = """SELECT
    (SELECT count(*) FROM sessions) AS sessions,
    (SELECT count(*) FROM learning_events) AS learning_events,
    (SELECT count(*) FROM topic_segments) AS topic_segments,
    (SELECT count(*) FROM bookmarks) AS bookmarks,
    (SELECT count(*) FROM help_requests) AS help_requests,
    (SELECT count(*) FROM cards) AS cards,
    (SELECT count(*) FROM review_logs) AS review_logs,
    (SELECT min(started_at) FROM sessions) AS oldest,
    (SELECT max(last_activity_at) FROM sessions) AS newest"""


def stored_rows(db: sqlite_utils.Database) -> StoredRows:
    """The counts of each kind of fact and the span of the sessions, in one statement."""
    # One statement is one read snapshot: the counts agree with each other.
    row = db.execute(_ROWS_SQL).fetchone()
    return StoredRows(
        sessions=row["sessions"],
        learning_events=row["learning_events"],
        topic_segments=row["topic_segments"],
        bookmarks=row["bookmarks"],
        help_requests=row["help_requests"],
        cards=row["cards"],
        review_logs=row["review_logs"],
        oldest=row["oldest"],
        newest=row["newest"],
    )


def _regular_files(root: Path) -> list[tuple[Path, int]]:
    """Every regular file below `root` (links not followed) with its size; none if no folder."""
    found: list[tuple[Path, int]] = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed while we walked (retention, forget)
                continue
            if not stat.S_ISREG(info.st_mode):  # a link or a socket someone put there
                continue
            found.append((path, info.st_size))
    return found


def originals_usage(originals: OriginalStore) -> FolderUsage:
    """The originals on disk (files named as the store names them) and the folder's bytes."""
    files = _regular_files(originals.root)
    items = sum(
        1
        for path, _ in files
        if ORIGINAL_PATH.fullmatch(path.relative_to(originals.root).as_posix())
    )
    return FolderUsage(items=items, bytes=sum(size for _, size in files))


def recordings_usage(folder: Path) -> FolderUsage:
    """The recording files in `folder` (named as the recorder names them) and its bytes."""
    files = _regular_files(folder)
    items = sum(1 for path, _ in files if made_at(path.name) is not None)
    return FolderUsage(items=items, bytes=sum(size for _, size in files))


def database_bytes(path: Path) -> int:
    """The size of the database file and its WAL and shared-memory files."""
    total = 0
    for suffix in DATABASE_SUFFIXES:
        try:
            total += path.with_name(path.name + suffix).stat().st_size
        except FileNotFoundError:
            continue
    return total


def stored_files(database: Path, originals: OriginalStore, recordings: Path) -> StoredFiles:
    """What the data dir holds on disk. Blocking: run it in a thread."""
    return StoredFiles(
        database_bytes=database_bytes(database),
        originals=originals_usage(originals),
        recordings=recordings_usage(recordings),
    )


def retention_of(settings: EdgeSettings) -> Retention:
    """The keep-less and retention settings in force."""
    return Retention(
        keep_originals=settings.frames.keep_originals,
        store_extracted_text=settings.frames.store_extracted_text,
        originals_retention_days=settings.sync.retention_days,
        voice_recording=settings.relay.record,
        voice_recording_retention_days=settings.relay.recording_retention_days,
    )


def summary(
    rows: StoredRows, files: StoredFiles, retention: Retention, pause: PauseState, today: date
) -> PrivacySummary:
    """The summary the Privacy page shows. Pure."""
    sizes = (files.database_bytes, files.originals.bytes, files.recordings.bytes)
    return PrivacySummary(
        counts=StoredCounts(
            sessions=rows.sessions,
            learning_events=rows.learning_events,
            topic_segments=rows.topic_segments,
            bookmarks=rows.bookmarks,
            help_requests=rows.help_requests,
            cards=rows.cards,
            review_logs=rows.review_logs,
            originals=files.originals.items,
            recordings=files.recordings.items,
        ),
        bytes=StoredBytes(
            database=sizes[0], originals=sizes[1], recordings=sizes[2], total=sum(sizes)
        ),
        oldest=from_iso(rows.oldest) if rows.oldest else None,
        newest=from_iso(rows.newest) if rows.newest else None,
        retention=retention,
        pause=pause,
        today=today,
    )
