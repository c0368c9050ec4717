"""`GET /api/me/export`: the student's cloud data as one zip, in the edge export's layout.

The layout (`shared.archive`): `manifest.json`, `README.md`, `data/<kind>.jsonl` and
`originals/ab/cd/<sha256>.<ext>`. The zip is made while it is sent: rows are read from the
database in chunks of `CHUNK_ROWS` (a server-side cursor on PostgreSQL), objects block by block
through `ObjectStore.read`, and each piece the zip writer makes is handed on at once, so memory
holds one chunk or block, plus one manifest entry per original. zipfile writes to a stream it
cannot seek by putting each entry's sizes in a data descriptor after it.

Every row is read in one REPEATABLE READ transaction on PostgreSQL, so the files agree with one
another even while an edge syncs; the objects are read after it, with the connection given back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import (
    Base,
    BookmarkRow,
    CardRow,
    DeviceRow,
    HelpRequest,
    Image,
    LearningEvent,
    ReviewLogRow,
    StudySession,
    TopicSegment,
    User,
)
from cloud.errors import InvalidToken, NotFound
from cloud.images import ObjectStore, image_key
from shared.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    ORIGINALS_FOLDER,
    README,
    ArchivedFile,
    BookmarkFields,
    CardFields,
    HelpRequestFields,
    ReviewLogFields,
    data_path,
    field_lines,
    original_path,
)
from shared.clock import Clock
from shared.schemas import Timestamp, WireModel

log = logging.getLogger(__name__)

#: Rows fetched and written per step: a few hundred kilobytes of JSON at most.
CHUNK_ROWS = 500


# --- the rows, as the archive holds them ---------------------------------------------------


class CloudLine(WireModel):
    """Base of the cloud's JSON Lines rows: read from the table's columns of the same names."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: str


class CloudFactLine(CloudLine):
    """Columns every fact synced from an edge has."""

    device_id: str = Field(description="the linked edge that sent it (its `id` in devices.jsonl)")
    revision: int = Field(description="the edge's revision of it that the cloud holds")
    received_at: Timestamp = Field(description="when the cloud stored that revision (UTC)")


class CloudSessionLine(CloudFactLine):
    """A study session (`data/sessions.jsonl`)."""

    id: str = Field(description="UUID of the session, as the edge made it")
    local_date: date = Field(description="its day, YYYY-MM-DD in the student's time zone")
    started_at: Timestamp = Field(description="start (UTC)")
    last_activity_at: Timestamp = Field(description="last frame, help request or bookmark (UTC)")
    ended_at: Timestamp | None = Field(description="end (UTC); null while it runs")
    end_reason: str | None = Field(
        description="`ended` by the student, `idle` after no activity, `superseded` by a new one"
    )


class CloudLearningEventLine(CloudFactLine):
    """One frame's analysis, or its failure (`data/learning_events.jsonl`)."""

    id: str = Field(description="UUID of the event (the edge API's `analysisId`)")
    session_id: str = Field(description="its session")
    local_date: date = Field(description="its day, YYYY-MM-DD in the student's time zone")
    captured_at: Timestamp = Field(description="when the frame arrived at the edge (UTC)")
    outcome: str = Field(description="`analysed` by the model, `reused`, or `failed`")
    error_code: str | None = Field(description="why the analysis failed, when it did")
    source: str | None = Field(description="who analysed it (`openai`, `on-device`, ...)")
    confidence: float | None = Field(
        description="how sure the analyser was, 0-1; null when it could not say"
    )
    topic: str | None = Field(description="the topic it was counted under")
    subtopic: str | None = Field(description="the subtopic, when one was named")
    is_studying: bool | None = Field(description="the frame shows study material")
    is_active: bool | None = Field(description="the student is writing or working")
    is_distracted: bool | None = Field(description="the frame shows a distraction")
    extracted_text: str = Field(description="the text the model read off the page (may be empty)")
    image_sha256: str | None = Field(
        description="SHA-256 of the original; in originals/ab/cd/ when the cloud holds it"
    )


class CloudTopicSegmentLine(CloudFactLine):
    """A stretch of one topic within one session and day (`data/topic_segments.jsonl`)."""

    id: str = Field(description="UUID of the segment")
    session_id: str = Field(description="its session")
    topic: str = Field(description="the topic")
    local_date: date = Field(description="its day, YYYY-MM-DD in the student's time zone")
    started_at: Timestamp = Field(description="first frame of the stretch (UTC)")
    last_seen_at: Timestamp = Field(description="last frame of the stretch (UTC)")
    ended_at: Timestamp | None = Field(description="end (UTC); null while it runs")
    seconds: float = Field(description="seconds of study it counts; while open, to its last frame")
    active_count: int = Field(description="frames of it where the student was active")
    passive_count: int = Field(description="frames of it where the student was reading")
    distracted_count: int = Field(description="frames of it where the student was distracted")


class CloudBookmarkLine(BookmarkFields, CloudFactLine):
    """A moment the student marked (`data/bookmarks.jsonl`)."""


class CloudHelpRequestLine(HelpRequestFields, CloudFactLine):
    """One time the student asked the tutor for help (`data/help_requests.jsonl`)."""


class CloudCardLine(CardFields, CloudFactLine):
    """A review card and its schedule after its last grade (`data/cards.jsonl`)."""


class CloudReviewLogLine(ReviewLogFields, CloudFactLine):
    """One grade of a card and the schedule it left (`data/review_logs.jsonl`)."""


class CloudDeviceLine(CloudLine):
    """An edge linked to the account, without any token (`data/devices.jsonl`)."""

    id: str = Field(description="UUID of the link")
    name: str = Field(description="the name the edge gave itself")
    created_at: Timestamp = Field(description="when it was linked (UTC)")
    last_seen_at: Timestamp | None = Field(description="its last sync (UTC)")
    revoked_at: Timestamp | None = Field(description="when it was unlinked (UTC)")


@dataclass(frozen=True)
class RowFile:
    """One JSON Lines file: the table it reads, the line model, the order of its rows."""

    table: type[Base]
    line: type[CloudLine]
    order: tuple[str, ...]

    def query(self, user_id: str) -> Select[Any]:
        """The user's rows, in a stable order."""
        columns = self.table.__table__.c
        return (
            select(self.table)
            .where(columns["user_id"] == user_id)
            .order_by(*(columns[name] for name in self.order))
        )


#: The JSON Lines files, in the order they are written.
ROW_FILES: dict[str, RowFile] = {
    "sessions": RowFile(StudySession, CloudSessionLine, ("started_at", "id")),
    "learning_events": RowFile(LearningEvent, CloudLearningEventLine, ("captured_at", "id")),
    "topic_segments": RowFile(TopicSegment, CloudTopicSegmentLine, ("started_at", "id")),
    "bookmarks": RowFile(BookmarkRow, CloudBookmarkLine, ("created_at", "id")),
    "help_requests": RowFile(HelpRequest, CloudHelpRequestLine, ("created_at", "id")),
    "cards": RowFile(CardRow, CloudCardLine, ("created_at", "id")),
    "review_logs": RowFile(ReviewLogRow, CloudReviewLogLine, ("reviewed_at", "id")),
    "devices": RowFile(DeviceRow, CloudDeviceLine, ("created_at", "id")),
}


# --- the manifest and the README -------------------------------------------------------------


class CloudAccount(WireModel):
    """The account the archive is of."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str | None
    role: str
    created_at: Timestamp
    last_sign_in_at: Timestamp


class CloudManifest(WireModel):
    """`manifest.json`: what the archive is and what it holds."""

    format: Literal["studylens-export"] = FORMAT
    format_version: int = FORMAT_VERSION
    app_version: str
    created_at: Timestamp
    source: Literal["cloud"] = "cloud"
    account: CloudAccount
    counts: dict[str, int] = Field(description="rows per JSON Lines file, by kind")
    originals: list[ArchivedFile]


def readme() -> str:
    """The archive's README.md: every file and every field, from the models themselves."""
    lines = [
        "# Your StudyLens data (cloud)",
        "",
        "Everything the StudyLens cloud holds about your studying: the facts your linked edges",
        "synced and the originals they uploaded, written by `GET /api/me/export`. The layout is",
        "that of the edge's `studylens-edge export`; the fields are the cloud's own.",
        "",
        "Times are UTC, ISO 8601 with milliseconds (`2026-11-25T09:00:00.000Z`). Local dates",
        "(`localDate`) are `YYYY-MM-DD` in the student's time zone of that day. Durations are",
        "seconds. Ids are the UUIDs the edge made, the same on the edge and in the cloud.",
        "",
        "## Files",
        "",
        f"- `{MANIFEST}`: format and app version, when it was made, `source` (`cloud`), your",
        "  account (id, email, name, role, when created and last signed in), rows per file, and",
        "  every original with its SHA-256 and size.",
        f"- `{ORIGINALS_FOLDER}/ab/cd/<sha256>.<ext>`: the frames your edges uploaded, byte for",
        "  byte; a file's name is the SHA-256 of its bytes.",
        "- `data/<kind>.jsonl`: one JSON object per line:",
    ]
    for kind, spec in ROW_FILES.items():
        lines += field_lines(data_path(kind), spec.line)
    return "\n".join(lines) + "\n"


# --- the zip, made while it is sent ---------------------------------------------------------


class _Pipe:
    """Where the zip writer writes: the bytes wait here until the response takes them.

    It has no `seek` or `tell`, so zipfile treats it as a stream (data descriptors).
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        """Keep a piece of the archive."""
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: `take` hands the bytes on."""

    def close(self) -> None:
        """Nothing to close: the response owns the connection."""

    def take(self) -> bytes:
        """Everything written since the last call."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _entry(name: str, now: datetime, method: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=now.timetuple()[:6])
    info.compress_type = method
    info.external_attr = 0o600 << 16  # the student's data: private once unpacked
    return info


def _write_lines(out: Any, line: type[CloudLine], rows: Sequence[Any]) -> None:
    """Serialise and compress one chunk of rows (in a thread: milliseconds of CPU)."""
    out.write(
        b"".join(
            line.model_validate(row).model_dump_json(by_alias=True).encode() + b"\n" for row in rows
        )
    )


def _write_block(out: Any, digest: Any, block: bytes) -> None:
    digest.update(block)
    out.write(block)


@dataclass(frozen=True)
class _Original:
    sha256: str
    content_type: str


class CloudExport:
    """Streams a user's archive."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        clock: Clock,
        app_version: str,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._clock = clock
        self._app_version = app_version

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only session whose every query sees the same moment of the database."""
        async with self._sessions() as db:
            if db.get_bind().dialect.name == "postgresql":
                await db.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            yield db

    async def stream(self, user_id: str) -> AsyncGenerator[bytes]:
        """The archive of `user_id`, piece by piece; the first piece comes after the account."""
        now = self._clock.now()
        pipe = _Pipe()
        zf = zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED)
        counts: dict[str, int] = {}
        originals: list[_Original] = []
        async with self._snapshot() as db:
            user = await db.get(User, user_id)
            if user is None:
                raise InvalidToken("The account of this token no longer exists.")
            account = CloudAccount.model_validate(user)
            for kind, spec in ROW_FILES.items():
                counts[kind] = 0
                out = zf.open(
                    _entry(data_path(kind), now, zipfile.ZIP_DEFLATED), "w", force_zip64=True
                )
                rows = await db.stream_scalars(
                    spec.query(user_id).execution_options(yield_per=CHUNK_ROWS)
                )
                async for chunk in rows.partitions():
                    await asyncio.to_thread(_write_lines, out, spec.line, chunk)
                    counts[kind] += len(chunk)
                    if piece := pipe.take():
                        yield piece
                await asyncio.to_thread(out.close)
                if piece := pipe.take():
                    yield piece
            images = await db.stream(
                select(Image.sha256, Image.content_type)
                .where(Image.user_id == user_id)
                .order_by(Image.sha256)
                .execution_options(yield_per=CHUNK_ROWS)
            )
            async for row in images.mappings():
                originals.append(_Original(row["sha256"], row["content_type"]))
        archived: list[ArchivedFile] = []
        for original in originals:
            entry = _entry(
                original_path(original.sha256, original.content_type), now, zipfile.ZIP_STORED
            )
            async for piece in self._copy(zf, pipe, user_id, original, entry, archived):
                yield piece
        manifest = CloudManifest(
            app_version=self._app_version,
            created_at=now,
            account=account,
            counts=counts,
            originals=archived,
        )
        await asyncio.to_thread(self._finish, zf, manifest, now)
        yield pipe.take()

    async def _copy(
        self,
        zf: zipfile.ZipFile,
        pipe: _Pipe,
        user_id: str,
        original: _Original,
        entry: zipfile.ZipInfo,
        archived: list[ArchivedFile],
    ) -> AsyncIterator[bytes]:
        """One original, block by block; stored as is (images do not compress)."""
        digest = hashlib.sha256()
        size = 0
        out: Any = None
        try:
            async for block in self._store.read(image_key(user_id, original.sha256)):
                if out is None:
                    out = zf.open(entry, "w", force_zip64=True)
                await asyncio.to_thread(_write_block, out, digest, block)
                size += len(block)
                if piece := pipe.take():
                    yield piece
        except NotFound:
            # Stores raise it before the first block: nothing of the entry was written.
            log.warning(
                "export: image %s of %s is recorded but not stored", original.sha256, user_id
            )
            return
        if out is None:
            out = zf.open(entry, "w", force_zip64=True)
        await asyncio.to_thread(out.close)
        if piece := pipe.take():
            yield piece
        archived.append(ArchivedFile(path=entry.filename, sha256=digest.hexdigest(), bytes=size))

    @staticmethod
    def _finish(zf: zipfile.ZipFile, manifest: CloudManifest, now: datetime) -> None:
        zf.writestr(_entry(README, now, zipfile.ZIP_DEFLATED), readme())
        zf.writestr(
            _entry(MANIFEST, now, zipfile.ZIP_DEFLATED),
            manifest.model_dump_json(by_alias=True, indent=1),
        )
        zf.close()
