"""`studylens-edge export`: the student's data as one zip (layout in `edge.privacy.archive`).

Every row is read inside one SQLite read transaction, so the archive is one moment of the
database even while the daemon writes (WAL: the writer is never held up). The files are copied
after it: only the originals the exported events name (content-addressed, so a name's bytes
never change) and the recordings. Nothing large is held in memory: rows stream into the zip
one line at a time, files in blocks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import sqlite_utils

from edge.errors import InvalidDate
from edge.files import FILE_MODE
from edge.frames.originals import OriginalStore
from edge.memory.scheduler import RATING_BY_NUMBER, STATE_NAMES
from edge.privacy.archive import (
    RECORDINGS_FOLDER,
    BookmarkLine,
    CardedPageLine,
    CardLine,
    DeviceLine,
    FactSync,
    HelpRequestLine,
    ImageSync,
    JsonLine,
    LearningEventLine,
    LocalUser,
    Manifest,
    Progress,
    ReviewLogLine,
    SessionLine,
    Step,
    StudyDayLine,
    SyncState,
    TopicSegmentLine,
    no_progress,
    readme,
)
from edge.privacy.errors import ExportTargetExists, SinceInFuture
from edge.voice.recording import made_at
from shared.archive import MANIFEST, ORIGINALS_FOLDER, README, ArchivedFile, data_path
from shared.clock import from_iso, local_date, start_of_day, to_iso

_BLOCK = 1 << 20
#: The outbox kind of each exported file that is a synced fact.
_FACT_KINDS = {
    "sessions": "session",
    "learning_events": "learning_event",
    "topic_segments": "topic_segment",
    "bookmarks": "bookmark",
    "help_requests": "help_request",
    "cards": "card",
    "review_logs": "review_log",
}


def parse_since(text: str, now: datetime, zone: tzinfo) -> date:
    """`--since`: an ISO date, not after today in the student's zone."""
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidDate(f"--since must be a date like 2026-09-01, not {text!r}.") from exc
    today = local_date(now, zone)
    if day > today:
        raise SinceInFuture(
            f"--since {day.isoformat()} is after today ({today.isoformat()}): nothing to export."
        )
    return day


# --- rows to JSON: pure -----------------------------------------------------------------------


class Columns(Protocol):
    """A row read by column name: `sqlite3.Row`, or a plain dict in tests."""

    def __getitem__(self, name: str) -> Any: ...


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


LineT = TypeVar("LineT", bound=JsonLine)


def line_of(model: type[LineT], row: Columns, **computed: Any) -> LineT:
    """A JSON line from a row: each field read from the column of its name, unless `computed`.

    Only the model's own fields are read: a column it does not declare (a device's token hash)
    never leaves the database.
    """
    values = {
        name: computed[name] if name in computed else row[name] for name in model.model_fields
    }
    return model.model_validate(values)


def study_day_line(row: Columns) -> StudyDayLine:
    """A `session_days` row."""
    return line_of(StudyDayLine, row)


def session_line(row: Columns) -> SessionLine:
    """A `sessions` row joined with its day's `local_date`."""
    return line_of(SessionLine, row)


def learning_event_line(row: Columns) -> LearningEventLine:
    """A `learning_events` row with its topic and subtopic by name."""
    text = row["analysis_json"]
    return line_of(
        LearningEventLine,
        row,
        analysis=json.loads(text) if text is not None else None,
        is_studying=_flag(row["is_studying"]),
        is_active=_flag(row["is_active"]),
        is_distracted=_flag(row["is_distracted"]),
    )


def topic_segment_line(row: Columns) -> TopicSegmentLine:
    """A `topic_segments` row with its topic by name."""
    return line_of(TopicSegmentLine, row)


def bookmark_line(row: Columns) -> BookmarkLine:
    """A `bookmarks` row."""
    return line_of(BookmarkLine, row)


def help_request_line(row: Columns) -> HelpRequestLine:
    """A `help_requests` row."""
    return line_of(HelpRequestLine, row)


def card_line(row: Columns) -> CardLine:
    """A `cards` row with its topic and subtopic and its FSRS state by name."""
    return line_of(CardLine, row, state=STATE_NAMES[row["state"]])


def review_log_line(row: Columns) -> ReviewLogLine:
    """A `review_logs` row with its rating and the FSRS state it left by name."""
    return line_of(
        ReviewLogLine,
        row,
        rating=RATING_BY_NUMBER[row["rating"]],
        state=STATE_NAMES[row["state"]],
    )


def carded_page_line(row: Columns) -> CardedPageLine:
    """A `carded_pages` row, its learning event's id as `id`."""
    return line_of(CardedPageLine, row, id=row["learning_event_id"])


def device_line(row: Columns) -> DeviceLine:
    """A `devices` row; its token hash is never read."""
    return line_of(DeviceLine, row)


def to_json_line(line: JsonLine) -> bytes:
    """One line of a `.jsonl` file: compact camelCase JSON and a newline."""
    return line.model_dump_json(by_alias=True).encode() + b"\n"


# --- the queries: `?` is the cutoff (UTC text or a local date; '' takes everything) -----------

_SELECTS = {
    "study_days": (
        "SELECT id, local_date, created_at FROM session_days WHERE local_date >= ?"
        " ORDER BY local_date, id",
        study_day_line,
    ),
    "sessions": (
        """SELECT s.id, s.day_id, d.local_date, s.started_at, s.last_activity_at, s.ended_at,
                  s.end_reason
           FROM sessions s JOIN session_days d ON d.id = s.day_id
           WHERE s.started_at >= ? ORDER BY s.started_at, s.id""",
        session_line,
    ),
    "learning_events": (
        """SELECT e.id, e.session_id, e.captured_at, e.image_key, e.outcome, e.error_code,
                  e.source, e.confidence, e.analysis_json, t.name AS topic,
                  st.name AS subtopic,
                  e.is_studying, e.is_active, e.is_distracted
           FROM learning_events e
           LEFT JOIN topics t ON t.id = e.topic_id LEFT JOIN subtopics st ON st.id = e.subtopic_id
           WHERE e.captured_at >= ? ORDER BY e.captured_at, e.id""",
        learning_event_line,
    ),
    "topic_segments": (
        """SELECT g.id, g.session_id, t.name AS topic, g.local_date, g.started_at, g.last_seen_at,
                  g.ended_at, g.duration_seconds, g.active_count, g.passive_count,
                  g.distracted_count
           FROM topic_segments g JOIN topics t ON t.id = g.topic_id
           WHERE g.started_at >= ? ORDER BY g.started_at, g.id""",
        topic_segment_line,
    ),
    "bookmarks": (
        """SELECT id, session_id, learning_event_id, note, created_at FROM bookmarks
           WHERE created_at >= ? ORDER BY created_at, id""",
        bookmark_line,
    ),
    "help_requests": (
        """SELECT id, session_id, local_date, created_at FROM help_requests
           WHERE created_at >= ? ORDER BY created_at, id""",
        help_request_line,
    ),
    "cards": (
        """SELECT c.id, c.session_id, c.learning_event_id, t.name AS topic,
                  st.name AS subtopic, c.kind, c.question, c.answer, c.maker, c.created_at,
                  c.state, c.step, c.stability, c.difficulty, c.due, c.last_review
           FROM cards c
           JOIN topics t ON t.id = c.topic_id LEFT JOIN subtopics st ON st.id = c.subtopic_id
           WHERE c.created_at >= ? ORDER BY c.created_at, c.id""",
        card_line,
    ),
    "review_logs": (
        """SELECT id, card_id, rating, reviewed_at, review_duration_ms, state, step, stability,
                  difficulty, due, last_review
           FROM review_logs WHERE reviewed_at >= ? ORDER BY reviewed_at, id""",
        review_log_line,
    ),
    "carded_pages": (
        """SELECT learning_event_id, session_id, maker, carded_at FROM carded_pages
           WHERE carded_at >= ? ORDER BY carded_at, learning_event_id""",
        carded_page_line,
    ),
    "devices": (
        """SELECT id, name, created_at, last_seen_at, revoked_at, paired_by FROM devices
           WHERE created_at >= ? ORDER BY created_at, id""",
        device_line,
    ),
}
#: Which cutoff each query compares with: the local date, or the UTC time.
_BY_DATE = {"study_days"}


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> Iterator[sqlite3.Row]:
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    yield from cursor.execute(sql, params)


def _count(db: sqlite_utils.Database, sql: str, params: list[Any]) -> int:
    # `sql` is one of this module's own queries, never text from outside.
    [row] = _rows(db, f"SELECT count(*) AS n FROM ({sql})", params)  # noqa: S608
    return int(row["n"])


@dataclass
class _Snapshot:
    """What the read transaction found, besides the rows already written."""

    counts: dict[str, int] = field(default_factory=dict)
    fact_ids: dict[str, set[str]] = field(default_factory=dict)
    image_keys: set[str] = field(default_factory=set)
    outbox: list[FactSync] = field(default_factory=list)
    images: list[ImageSync] = field(default_factory=list)
    user: LocalUser | None = None


class _Counter:
    """Reports progress every so many units, and at each stage's end."""

    EVERY = 200

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def add(self, stage: str, units: int = 1) -> None:
        self.done += units
        if self.done % self.EVERY == 0:
            self.progress(Step(stage, self.done, self.total))

    def stage_done(self, stage: str) -> None:
        self.progress(Step(stage, self.done, self.total))


def _read_snapshot(
    db: sqlite_utils.Database, zf: zipfile.ZipFile, since: str, since_day: str, progress: Progress
) -> tuple[_Snapshot, _Counter]:
    """Write every JSON Lines file and read the sync state, all in one read transaction."""
    found = _Snapshot()
    db.execute("BEGIN")  # deferred: the first read fixes the snapshot every later one sees
    try:
        params = {kind: [since_day if kind in _BY_DATE else since] for kind in _SELECTS}
        totals = {kind: _count(db, sql, params[kind]) for kind, (sql, _) in _SELECTS.items()}
        counter = _Counter(progress, sum(totals.values()))
        [user] = _rows(db, "SELECT id, display_name, created_at FROM users ORDER BY created_at", [])
        found.user = LocalUser(
            id=user["id"], display_name=user["display_name"], created_at=user["created_at"]
        )
        for kind, (sql, make) in _SELECTS.items():
            ids: set[str] = set()
            with zf.open(data_path(kind), "w", force_zip64=True) as out:
                for row in _rows(db, sql, params[kind]):
                    line = make(row)
                    out.write(to_json_line(line))
                    ids.add(line.id)
                    if isinstance(line, LearningEventLine) and line.image_key:
                        found.image_keys.add(line.image_key)
                    counter.add(kind)
            found.counts[kind] = len(ids)
            found.fact_ids[kind] = ids
            counter.stage_done(kind)
        found.outbox, found.images = _sync_state(db, found)
    finally:
        db.execute("COMMIT")  # ends the read; nothing was written
    return found, counter


def _sync_state(
    db: sqlite_utils.Database, found: _Snapshot
) -> tuple[list[FactSync], list[ImageSync]]:
    exported = {
        (_FACT_KINDS[f], i) for f, ids in found.fact_ids.items() if f in _FACT_KINDS for i in ids
    }
    outbox = [
        FactSync(
            kind=row["kind"],
            id=row["fact_id"],
            revision=row["revision"],
            delivered_revision=row["delivered_revision"],
            rejected_code=row["rejected_code"],
            deleted_at=from_iso(row["deleted_at"]) if row["deleted_at"] else None,
        )
        for row in _rows(
            db,
            "SELECT kind, fact_id, revision, delivered_revision, rejected_code, deleted_at"
            " FROM sync_outbox ORDER BY kind, fact_id",
            [],
        )
        # Tombstones too: the new computer must still tell the cloud what was forgotten.
        if (row["kind"], row["fact_id"]) in exported or row["deleted_at"]
    ]
    images = [
        ImageSync(
            image_key=row["image_key"],
            uploaded_at=row["uploaded_at"],
            missing_at=row["missing_at"],
            pruned_at=row["pruned_at"],
        )
        for row in _rows(
            db,
            "SELECT image_key, uploaded_at, missing_at, pruned_at FROM sync_images"
            " ORDER BY image_key",
            [],
        )
        if row["image_key"] in found.image_keys
    ]
    return outbox, images


def _copy_in(zf: zipfile.ZipFile, source: Path, name: str) -> ArchivedFile | None:
    """Stream one file into the archive; None when it is gone (pruned meanwhile)."""
    digest = hashlib.sha256()
    size = 0
    try:
        source_file = source.open("rb")
    except FileNotFoundError:
        return None
    with source_file, zf.open(name, "w", force_zip64=True) as out:
        while block := source_file.read(_BLOCK):
            digest.update(block)
            out.write(block)
            size += len(block)
    return ArchivedFile(path=name, sha256=digest.hexdigest(), bytes=size)


def recordings_since(folder: Path, since: datetime | None) -> list[Path]:
    """The recording files in `folder`, those made at or after `since` if given, by name."""
    if not folder.is_dir():
        return []
    chosen = []
    for path in sorted(folder.iterdir()):
        made = made_at(path.name)
        if made is None or path.is_symlink() or not path.is_file():
            continue
        if since is None or made >= since:
            chosen.append(path)
    return chosen


def _private_target(out: Path, replace: bool) -> tuple[Path, IO[bytes]]:
    """A new 0600 file beside `out`, renamed over it once complete."""
    if out.exists() and not replace:
        raise ExportTargetExists(f"{out} already exists; pass --force to replace it.")
    partial = out.with_name(f".{out.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # the student's data: never world-readable, whatever the umask
    return partial, os.fdopen(fd, "wb")


def export_archive(
    db: sqlite_utils.Database,
    out: Path,
    *,
    originals: OriginalStore,
    recordings: Path,
    now: datetime,
    zone: tzinfo,
    app_version: str,
    since: date | None = None,
    replace: bool = False,
    progress: Progress = no_progress,
) -> Manifest:
    """Write the archive to `out` (complete, or not at all) and return its manifest."""
    cutoff = start_of_day(since, zone) if since else None
    partial, target = _private_target(out, replace)
    try:
        with target, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            found, counter = _read_snapshot(
                db,
                zf,
                to_iso(cutoff) if cutoff else "",
                since.isoformat() if since else "",
                progress,
            )
            files = sorted(found.image_keys)
            record_paths = recordings_since(recordings, cutoff)
            counter.total += len(files) + len(record_paths)
            copied_originals = []
            for key in files:
                source = originals.path_for(key)
                name = f"{ORIGINALS_FOLDER}/{source.relative_to(originals.root).as_posix()}"
                entry = _copy_in(zf, source, name)
                if entry is not None:
                    copied_originals.append(entry)
                counter.add(ORIGINALS_FOLDER)
            counter.stage_done(ORIGINALS_FOLDER)
            copied_recordings = []
            for path in record_paths:
                entry = _copy_in(zf, path, f"{RECORDINGS_FOLDER}/{path.name}")
                if entry is not None:
                    copied_recordings.append(entry)
                counter.add(RECORDINGS_FOLDER)
            counter.stage_done(RECORDINGS_FOLDER)
            assert found.user is not None  # noqa: S101 - read in the snapshot above
            manifest = Manifest(
                app_version=app_version,
                created_at=now,
                since=since,
                time_zone=str(zone),
                local_user=found.user,
                counts=found.counts,
                originals=copied_originals,
                recordings=copied_recordings,
                sync=SyncState(outbox=found.outbox, images=found.images),
            )
            zf.writestr(README, readme())
            zf.writestr(MANIFEST, manifest.model_dump_json(by_alias=True, indent=1))
        os.replace(partial, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return manifest
