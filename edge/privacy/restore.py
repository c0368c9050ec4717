"""`studylens-edge import`: an export becomes the data dir of a new computer.

Only into an empty (or absent) data dir, and only from an archive of ours whose every entry is
checked before anything is written: its path (nothing may leave the dir), its size (the whole
archive against a limit and the free disk), its manifest's format and version. The new data dir
is built beside the target and renamed into place at the end, so a refused or broken import
leaves nothing behind.

Facts keep their ids, and their outbox rows get back the revision the old computer had made and
the one the cloud had acknowledged: what the cloud holds is not sent again, what it lacks is
(at the same revision, so the cloud's "keep the highest revision" rule takes it). Originals the
cloud has are marked uploaded. Cards keep their FSRS state and the pages already carded stay
carded, so no imported session is carded again. Paired phones and the cloud link are not carried
over: their secrets are not in the archive (pair the phones and `link` again).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from edge.files import open_private, private_dir
from edge.memory.records import question_key
from edge.memory.scheduler import RATINGS, STATE_NUMBERS
from edge.privacy.archive import (
    RECORDINGS_FOLDER,
    ROW_FILES,
    BookmarkLine,
    CardedPageLine,
    CardLine,
    HelpRequestLine,
    JsonLine,
    LearningEventLine,
    Manifest,
    Progress,
    ReviewLogLine,
    SessionLine,
    Step,
    StudyDayLine,
    TopicSegmentLine,
    no_progress,
)
from edge.privacy.errors import (
    ArchiveTooLarge,
    CorruptArchive,
    DataDirNotEmpty,
    NotAnExport,
    PartialArchive,
    UnknownArchiveVersion,
    UnsafeArchive,
)
from edge.store import open_database, transaction
from edge.voice.recording import RECORDING_NAME
from shared.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    ORIGINAL_PATH,
    ORIGINALS_FOLDER,
    README,
    ArchivedFile,
    data_path,
)
from shared.clock import to_iso

#: The most an archive may unpack to, unless the caller allows more.
DEFAULT_MAX_BYTES = 64 * 1024**3
#: The manifest is read whole: one entry per fact and per original stays far below this.
MAX_MANIFEST_BYTES = 512 * 1024**2
_BLOCK = 1 << 20
_ZIP_FAILURES = (zipfile.BadZipFile, zlib.error, EOFError)


def _is_empty(data_dir: Path) -> bool:
    return not data_dir.exists() or (data_dir.is_dir() and not any(data_dir.iterdir()))


def check_entry_name(name: str) -> None:
    """Refuse a path that would leave the dir it is unpacked into."""
    path = PurePosixPath(name)
    if (
        "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or ".." in path.parts
        or (path.parts and path.parts[0].endswith(":"))
    ):
        raise UnsafeArchive(f"The archive holds an entry outside its own folder: {name!r}.")


def _known_entry(name: str) -> bool:
    """Whether an entry has a place in the layout of `edge.privacy.archive`."""
    if name in (MANIFEST, README) or name in {data_path(kind) for kind in ROW_FILES}:
        return True
    folder, _, rest = name.partition("/")
    if folder == ORIGINALS_FOLDER:
        return ORIGINAL_PATH.fullmatch(rest) is not None
    if folder == RECORDINGS_FOLDER:
        return RECORDING_NAME.fullmatch(rest) is not None
    return False


def check_entries(zf: zipfile.ZipFile, max_bytes: int, free_bytes: int) -> None:
    """Every entry: a safe path, a regular file, a place in our layout; the sum within limits."""
    total = 0
    for info in zf.infolist():
        check_entry_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(f"The archive holds a symbolic link: {info.filename!r}.")
        if info.is_dir():
            continue
        if not _known_entry(info.filename):
            raise NotAnExport(
                f"The archive holds {info.filename!r}, which no StudyLens export has."
            )
        total += info.file_size
    if MANIFEST not in zf.namelist():
        raise NotAnExport(f"The archive has no {MANIFEST}: it is not a StudyLens export.")
    if total > max_bytes:
        raise ArchiveTooLarge(
            f"The archive unpacks to {total:,} bytes, more than the limit of {max_bytes:,}."
        )
    if total > free_bytes:
        raise ArchiveTooLarge(
            f"The archive unpacks to {total:,} bytes; the disk has {free_bytes:,} free."
        )


def read_manifest(zf: zipfile.ZipFile) -> Manifest:
    """The manifest, if it is ours and of a version this StudyLens reads."""
    info = zf.getinfo(MANIFEST)
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ArchiveTooLarge(f"{MANIFEST} is {info.file_size:,} bytes: not a StudyLens export.")
    try:
        found = json.loads(zf.read(info))
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotAnExport(f"{MANIFEST} is not JSON: it is not a StudyLens export.") from exc
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        raise NotAnExport(f"{MANIFEST} is not a StudyLens export's.")
    if found.get("formatVersion") != FORMAT_VERSION:
        raise UnknownArchiveVersion(
            f"The archive is format version {found.get('formatVersion')!r}; this StudyLens"
            f" reads version {FORMAT_VERSION}. Import it with the version that made it"
            f" ({found.get('appVersion', 'unknown')!s}) or newer."
        )
    try:
        return Manifest.model_validate(found)
    except ValidationError as exc:
        raise CorruptArchive(f"{MANIFEST} is damaged: {exc.errors()[0]['msg']}.") from exc


def _lines(zf: zipfile.ZipFile, kind: str, model: type[JsonLine]) -> Iterator[Any]:
    """The rows of one JSON Lines file, each validated; the file may be absent when empty."""
    name = data_path(kind)
    if name not in zf.namelist():
        return
    with zf.open(name) as raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
        for number, line in enumerate(text, 1):
            try:
                yield model.model_validate_json(line)
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(p) for p in problem["loc"])
                raise CorruptArchive(f"{name} line {number}: {where}: {problem['msg']}.") from exc


class _Names:
    """Topic and subtopic ids of the new database, by name (made when missing)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.topics: dict[str, int] = {}
        self.subtopics: dict[tuple[int, str], int] = {}

    def topic(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name not in self.topics:
            self.db.execute("INSERT INTO topics (name) VALUES (?) ON CONFLICT DO NOTHING", [name])
            [row] = self._query("SELECT id FROM topics WHERE name = ?", [name])
            self.topics[name] = int(row["id"])
        return self.topics[name]

    def subtopic(self, topic_id: int | None, name: str | None) -> int | None:
        if topic_id is None or name is None:
            return None
        if (topic_id, name) not in self.subtopics:
            self.db.execute(
                "INSERT INTO subtopics (topic_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [topic_id, name],
            )
            [row] = self._query(
                "SELECT id FROM subtopics WHERE topic_id = ? AND name = ?", [topic_id, name]
            )
            self.subtopics[(topic_id, name)] = int(row["id"])
        return self.subtopics[(topic_id, name)]

    def _query(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        cursor = self.db.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()


def _when(moment: Any) -> str | None:
    return to_iso(moment) if moment is not None else None


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _schedule(line: CardLine | ReviewLogLine) -> dict[str, Any]:
    """The FSRS state columns of a card or review log line."""
    return {
        "state": STATE_NUMBERS[line.state],
        "step": line.step,
        "stability": line.stability,
        "difficulty": line.difficulty,
        "due": to_iso(line.due),
        "last_review": _when(line.last_review),
    }


def _insert(db: sqlite_utils.Database, table: str, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    # Table and column names are this module's own constants, never the archive's text.
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))  # noqa: S608


def _row(line: Any, names: _Names) -> tuple[str, dict[str, Any]]:
    """The table and column values of one validated line."""
    match line:
        case StudyDayLine():
            return "session_days", {
                "id": line.id,
                "user_id": None,  # filled in by the caller: the restored local user
                "local_date": line.local_date.isoformat(),
                "created_at": to_iso(line.created_at),
            }
        case SessionLine():
            return "sessions", {
                "id": line.id,
                "day_id": line.day_id,
                "started_at": to_iso(line.started_at),
                "last_activity_at": to_iso(line.last_activity_at),
                "ended_at": _when(line.ended_at),
                "end_reason": line.end_reason,
            }
        case LearningEventLine():
            topic_id = names.topic(line.topic)
            return "learning_events", {
                "id": line.id,
                "session_id": line.session_id,
                "captured_at": to_iso(line.captured_at),
                "image_key": line.image_key,
                "outcome": line.outcome,
                "error_code": line.error_code,
                "source": line.source,
                "confidence": line.confidence,
                # As the pipeline writes it (pydantic's compact JSON, text unescaped).
                "analysis_json": None
                if line.analysis is None
                else json.dumps(line.analysis, separators=(",", ":"), ensure_ascii=False),
                "topic_id": topic_id,
                "subtopic_id": names.subtopic(topic_id, line.subtopic),
                "is_studying": _flag(line.is_studying),
                "is_active": _flag(line.is_active),
                "is_distracted": _flag(line.is_distracted),
            }
        case TopicSegmentLine():
            return "topic_segments", {
                "id": line.id,
                "session_id": line.session_id,
                "topic_id": names.topic(line.topic),
                "local_date": line.local_date.isoformat(),
                "started_at": to_iso(line.started_at),
                "last_seen_at": to_iso(line.last_seen_at),
                "ended_at": _when(line.ended_at),
                "duration_seconds": line.duration_seconds,
                "active_count": line.active_count,
                "passive_count": line.passive_count,
                "distracted_count": line.distracted_count,
            }
        case BookmarkLine():
            return "bookmarks", {
                "id": line.id,
                "session_id": line.session_id,
                "learning_event_id": line.learning_event_id,
                "note": line.note,
                "created_at": to_iso(line.created_at),
            }
        case HelpRequestLine():
            return "help_requests", {
                "id": line.id,
                "session_id": line.session_id,
                "local_date": line.local_date.isoformat(),
                "created_at": to_iso(line.created_at),
            }
        case CardLine():
            topic_id = names.topic(line.topic)
            return "cards", {
                "id": line.id,
                "session_id": line.session_id,
                "learning_event_id": line.learning_event_id,
                "topic_id": topic_id,
                "subtopic_id": names.subtopic(topic_id, line.subtopic),
                "kind": line.kind,
                "question": line.question,
                # Folded again, not carried: the key is ours to define, and unique.
                "question_key": question_key(line.question),
                "answer": line.answer,
                "maker": line.maker,
                "created_at": to_iso(line.created_at),
                **_schedule(line),
            }
        case ReviewLogLine():
            return "review_logs", {
                "id": line.id,
                "card_id": line.card_id,
                "rating": RATINGS[line.rating].value,
                "reviewed_at": to_iso(line.reviewed_at),
                "review_duration_ms": line.review_duration_ms,
                **_schedule(line),
            }
        case CardedPageLine():
            return "carded_pages", {
                "learning_event_id": line.id,
                "session_id": line.session_id,
                "maker": line.maker,
                "carded_at": to_iso(line.carded_at),
            }
    raise TypeError(type(line))  # pragma: no cover - ROW_FILES and this match are one list


def _restore_rows(
    db: sqlite_utils.Database, zf: zipfile.ZipFile, manifest: Manifest, tick: Any
) -> None:
    """Every fact, then its sync state, in one transaction."""
    names = _Names(db)
    with transaction(db):
        user = manifest.local_user
        # The fresh database's seeded user has nothing yet: it becomes the old computer's.
        db.execute(
            "UPDATE users SET id = ?, display_name = ?, created_at = ?",
            [user.id, user.display_name, to_iso(user.created_at)],
        )
        for kind, model in ROW_FILES.items():
            if kind == "devices":
                # Their tokens are not in the archive: a phone pairs with the new computer anew.
                continue
            count = 0
            try:
                for line in _lines(zf, kind, model):
                    table, values = _row(line, names)
                    if table == "session_days":
                        values["user_id"] = user.id
                    _insert(db, table, values)
                    count += 1
                    tick(kind)
            except sqlite3.IntegrityError as exc:
                raise CorruptArchive(
                    f"{data_path(kind)} line {count + 1} does not fit the rest: {exc}."
                ) from exc
            if count != manifest.counts.get(kind, 0):
                raise CorruptArchive(
                    f"{data_path(kind)} has {count} rows; the manifest says"
                    f" {manifest.counts.get(kind, 0)}."
                )
        # The inserts' triggers queued every fact at revision 1: put back what was known.
        db.conn.executemany(
            """UPDATE sync_outbox SET revision = ?, delivered_revision = ?, rejected_code = ?
               WHERE kind = ? AND fact_id = ?""",
            [
                (f.revision, f.delivered_revision, f.rejected_code, f.kind, f.id)
                for f in manifest.sync.outbox
                if f.deleted_at is None
            ],
        )
        try:
            db.conn.executemany(
                """INSERT INTO sync_outbox
                       (kind, fact_id, revision, delivered_revision, rejected_code, deleted_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [
                    (
                        f.kind,
                        f.id,
                        f.revision,
                        f.delivered_revision,
                        f.rejected_code,
                        _when(f.deleted_at),
                    )
                    for f in manifest.sync.outbox
                    if f.deleted_at is not None
                ],
            )
        except sqlite3.IntegrityError as exc:
            raise CorruptArchive(
                f"{MANIFEST} has a tombstone for a fact the archive holds: {exc}."
            ) from exc
        db.conn.executemany(
            """INSERT INTO sync_images (image_key, uploaded_at, missing_at, pruned_at)
               VALUES (?, ?, ?, ?)""",
            [
                (i.image_key, _when(i.uploaded_at), _when(i.missing_at), _when(i.pruned_at))
                for i in manifest.sync.images
            ],
        )


def _extract(zf: zipfile.ZipFile, entry: ArchivedFile, target: Path) -> None:
    """Stream one file out of the archive, checking its bytes against the manifest."""
    if entry.path not in zf.namelist():
        raise CorruptArchive(f"The manifest lists {entry.path}, which the archive lacks.")
    digest = hashlib.sha256()
    with zf.open(entry.path) as source, open_private(target) as out:
        while block := source.read(_BLOCK):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != entry.sha256:
        raise CorruptArchive(f"{entry.path} does not have the bytes the manifest names.")


def _restore_files(zf: zipfile.ZipFile, manifest: Manifest, staging: Path, tick: Any) -> None:
    listed = {e.path for e in (*manifest.originals, *manifest.recordings)}
    for name in zf.namelist():
        if name.startswith((f"{ORIGINALS_FOLDER}/", f"{RECORDINGS_FOLDER}/")) and (
            name not in listed
        ):
            raise CorruptArchive(f"{name} is in the archive but not in its manifest.")
    for entry in manifest.originals:
        # The data dir's image folder (`edge.sync.build.ORIGINALS_FOLDER`) has the same layout.
        relative = entry.path.removeprefix(f"{ORIGINALS_FOLDER}/")
        _extract(zf, entry, staging / "images" / relative)
        tick(ORIGINALS_FOLDER)
    for entry in manifest.recordings:
        _extract(zf, entry, staging / RECORDINGS_FOLDER / PurePosixPath(entry.path).name)
        tick(RECORDINGS_FOLDER)


def restore_archive(
    archive: Path,
    data_dir: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress = no_progress,
) -> Manifest:
    """Make `data_dir` (empty or absent) hold what `archive` holds; return its manifest."""
    if not _is_empty(data_dir):
        raise DataDirNotEmpty(
            f"{data_dir} is not empty: import only into a new, empty data dir"
            " (pick another --data-dir); nothing was changed."
        )
    try:
        zf = zipfile.ZipFile(archive)
    except _ZIP_FAILURES as exc:
        raise CorruptArchive(f"{archive} is not a readable zip archive: {exc}.") from exc
    except FileNotFoundError as exc:
        raise CorruptArchive(f"{archive} does not exist.") from exc
    staging = data_dir.with_name(f".{data_dir.name}.importing")
    try:
        with zf:
            manifest = _restore_into(
                zf, manifest_checks(zf, data_dir, max_bytes), staging, progress
            )
    except _ZIP_FAILURES as exc:
        raise CorruptArchive(f"{archive} is damaged or truncated: {exc}.") from exc
    if data_dir.exists():
        data_dir.rmdir()  # empty, checked above: the finished dir takes its place
    os.replace(staging, data_dir)
    return manifest


def manifest_checks(zf: zipfile.ZipFile, data_dir: Path, max_bytes: int) -> Manifest:
    """Every check that needs no writing: entries, sizes, the manifest, a full export."""
    check_entries(zf, max_bytes, shutil.disk_usage(_existing_ancestor(data_dir)).free)
    manifest = read_manifest(zf)
    if manifest.since is not None:
        raise PartialArchive(
            f"The archive holds only what happened since {manifest.since.isoformat()};"
            " import needs a full export (made without --since)."
        )
    return manifest


def _restore_into(
    zf: zipfile.ZipFile, manifest: Manifest, staging: Path, progress: Progress
) -> Manifest:
    """Build the whole data dir in `staging`; on any failure, remove it again."""
    total = sum(manifest.counts.values()) - manifest.counts.get("devices", 0)
    total += len(manifest.originals) + len(manifest.recordings)
    done = 0

    def tick(stage: str) -> None:
        nonlocal done
        done += 1
        if done % 200 == 0 or done == total:
            progress(Step(stage, done, total))

    if staging.exists():  # left by an import that was killed
        shutil.rmtree(staging)
    try:
        private_dir(staging)
        with contextlib.closing(open_database(staging / "studylens.db")) as db:
            _restore_rows(db, zf, manifest, tick)
        _restore_files(zf, manifest, staging, tick)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress(Step("done", total, total))
    return manifest


def _existing_ancestor(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path
