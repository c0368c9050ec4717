"""The edge's export archive: its rows and manifest, shared by export and restore.

One zip, format version 1, in the layout of `shared.archive` plus the recordings:

    manifest.json                    Manifest: versions, counts, files, the sync state
    README.md                        what each file holds, made from the models below
    data/<kind>.jsonl                one JSON object per line, one file per kind (`ROW_FILES`)
    originals/ab/cd/<sha256>.<ext>   the original frames, as the data dir keeps them
    recordings/<name>.wav            voice recordings, when any were kept

Rows are camelCase JSON, as the edge's API speaks; times are UTC text with milliseconds
(`shared.clock.to_iso`), local dates are `YYYY-MM-DD` in the student's zone of the day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    ORIGINALS_FOLDER,
    ArchivedFile,
    BookmarkFields,
    CardFields,
    HelpRequestFields,
    ReviewLogFields,
    data_path,
    field_lines,
)
from shared.schemas import Timestamp, WireModel
from shared.sync import Confidence

RECORDINGS_FOLDER = "recordings"


class JsonLine(WireModel):
    """Base of the JSON Lines rows: a field the format does not know is refused on import."""

    model_config = ConfigDict(extra="forbid")

    id: str


class StudyDayLine(JsonLine):
    """A day the student studied on: sessions belong to one (`data/study_days.jsonl`)."""

    id: str = Field(description="UUID of the day")
    local_date: date = Field(description="the day, YYYY-MM-DD in the student's time zone")
    created_at: Timestamp = Field(description="when its first session started (UTC)")


class SessionLine(JsonLine):
    """A study session (`data/sessions.jsonl`)."""

    id: str = Field(description="UUID of the session, as the cloud knows it")
    day_id: str = Field(description="the `id` of its row in study_days.jsonl")
    local_date: date = Field(description="its day, YYYY-MM-DD in the student's time zone")
    started_at: Timestamp = Field(description="start (UTC)")
    last_activity_at: Timestamp = Field(description="last frame, help request or bookmark (UTC)")
    ended_at: Timestamp | None = Field(description="end (UTC); null while it runs")
    end_reason: Literal["ended", "idle", "superseded"] | None = Field(
        description="`ended` by the student, `idle` after no activity, `superseded` by a new one"
    )


class LearningEventLine(JsonLine):
    """One frame the phone sent, analysed or not (`data/learning_events.jsonl`)."""

    id: str = Field(description="UUID of the event (the API's `analysisId`)")
    session_id: str = Field(description="its session")
    captured_at: Timestamp = Field(description="when the frame arrived (UTC)")
    image_key: str | None = Field(
        description="`<sha256>.<ext>` of the original, in originals/ab/cd/ when it was kept"
    )
    outcome: Literal["analysed", "reused", "failed"] = Field(
        description="`analysed` by the model, `reused` (an unchanged view), or `failed`"
    )
    error_code: str | None = Field(description="why the analysis failed, when it did")
    source: str | None = Field(description="who analysed it (`openai`, `on-device`, ...)")
    # A default: archives made before it was kept import as they are.
    confidence: Confidence | None = Field(
        default=None, description="how sure the analyser was, 0-1; null when it could not say"
    )
    analysis: dict[str, Any] | None = Field(
        description="the analysis as the API answered it (topic, extractedText, flags, ...)"
    )
    topic: str | None = Field(description="the topic it was counted under")
    subtopic: str | None = Field(description="the subtopic, when one was named")
    is_studying: bool | None = Field(description="the frame shows study material")
    is_active: bool | None = Field(description="the student is writing or working")
    is_distracted: bool | None = Field(description="the frame shows a distraction")


class TopicSegmentLine(JsonLine):
    """A stretch of one topic within one session and day (`data/topic_segments.jsonl`)."""

    id: str = Field(description="UUID of the segment")
    session_id: str = Field(description="its session")
    topic: str = Field(description="the topic")
    local_date: date = Field(description="its day, YYYY-MM-DD in the student's time zone")
    started_at: Timestamp = Field(description="first frame of the stretch (UTC)")
    last_seen_at: Timestamp = Field(description="last frame of the stretch (UTC)")
    ended_at: Timestamp | None = Field(description="end (UTC); null while it runs")
    duration_seconds: float | None = Field(
        description="seconds of study it counts; null while it runs"
    )
    active_count: int = Field(description="frames of it where the student was active")
    passive_count: int = Field(description="frames of it where the student was reading")
    distracted_count: int = Field(description="frames of it where the student was distracted")


class BookmarkLine(BookmarkFields, JsonLine):
    """A moment the student marked (`data/bookmarks.jsonl`)."""


class HelpRequestLine(HelpRequestFields, JsonLine):
    """One time the student asked the tutor for help (`data/help_requests.jsonl`)."""


class CardLine(CardFields, JsonLine):
    """A review card and its FSRS state (`data/cards.jsonl`)."""


class ReviewLogLine(ReviewLogFields, JsonLine):
    """One grade of a card and the schedule it left (`data/review_logs.jsonl`)."""


# Card making skips these pages: without them a new computer would card old sessions again.
# (One line of docstring: the README takes it as it is.)
class CardedPageLine(JsonLine):
    """A page already turned into cards, or found to hold none (`data/carded_pages.jsonl`)."""

    id: str = Field(description="the page: its learning event's `id`")
    session_id: str = Field(description="its session")
    maker: str = Field(description="what carded it: `on-device`, or the model's name")
    carded_at: Timestamp = Field(description="when it was carded (UTC)")


class DeviceLine(JsonLine):
    """A paired phone, without its token (`data/devices.jsonl`); import does not restore it."""

    id: str = Field(description="UUID of the device")
    name: str = Field(description="the name the phone gave itself")
    created_at: Timestamp = Field(description="when it was paired (UTC)")
    last_seen_at: Timestamp | None = Field(description="its last request (UTC)")
    revoked_at: Timestamp | None = Field(description="when its token was withdrawn (UTC)")
    paired_by: str | None = Field(description="the device that made its pairing code, if any")


#: The JSON Lines files, in the order they are written and restored (parents first).
ROW_FILES: dict[str, type[JsonLine]] = {
    "study_days": StudyDayLine,
    "sessions": SessionLine,
    "learning_events": LearningEventLine,
    "topic_segments": TopicSegmentLine,
    "bookmarks": BookmarkLine,
    "help_requests": HelpRequestLine,
    "cards": CardLine,
    "review_logs": ReviewLogLine,
    "carded_pages": CardedPageLine,
    "devices": DeviceLine,
}


# --- the manifest ---------------------------------------------------------------------------


class LocalUser(WireModel):
    """The data dir's one local user, whom the study days belong to."""

    id: str
    display_name: str
    created_at: Timestamp


class FactSync(WireModel):
    """A fact's outbox row: the cloud holds `delivered_revision`; it is sent again if lower.

    With `deleted_at`, a tombstone: the fact was forgotten and the cloud is still to be told
    (or was told: then both revisions are equal). Its fact is in no data file.
    """

    kind: str
    id: str
    revision: int = Field(ge=1)
    delivered_revision: int = Field(ge=0)
    rejected_code: str | None = None
    deleted_at: Timestamp | None = None


class ImageSync(WireModel):
    """An original's upload state: uploaded ones are never uploaded again."""

    image_key: str
    uploaded_at: Timestamp | None = None
    missing_at: Timestamp | None = None
    pruned_at: Timestamp | None = None


class SyncState(WireModel):
    """Everything the new computer needs to send the cloud exactly what it lacks."""

    outbox: list[FactSync]
    images: list[ImageSync]


class Manifest(WireModel):
    """`manifest.json`: what the archive is and what it holds."""

    format: Literal["studylens-export"] = FORMAT
    format_version: int = FORMAT_VERSION
    app_version: str
    created_at: Timestamp
    since: date | None = Field(description="the first day exported; null for everything")
    time_zone: str = Field(description="the IANA zone the local dates were counted in")
    local_user: LocalUser
    counts: dict[str, int] = Field(description="rows per JSON Lines file, by kind")
    originals: list[ArchivedFile]
    recordings: list[ArchivedFile]
    sync: SyncState


# --- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Where a long export or import is: `done` of `total` units (rows and files)."""

    stage: str
    done: int
    total: int


Progress = Callable[[Step], None]


def no_progress(step: Step) -> None:
    """A progress callback that shows nothing."""


# --- the README inside the archive -----------------------------------------------------------


def readme() -> str:
    """The archive's README.md: every file and every field, from the models themselves."""
    lines = [
        "# Your StudyLens data",
        "",
        "Everything the StudyLens edge daemon kept about your studying, written by",
        "`studylens-edge export`. `studylens-edge import` turns it into the data dir of a new",
        "computer (a full export only: one made with `--since` is for reading).",
        "",
        "Times are UTC, ISO 8601 with milliseconds (`2026-11-25T09:00:00.000Z`). Local dates",
        "(`localDate`) are `YYYY-MM-DD` in the time zone named by `timeZone` in manifest.json.",
        "Durations are seconds. Ids are the UUIDs the cloud knows the same facts by.",
        "",
        "## Files",
        "",
        f"- `{MANIFEST}`: format and app version, when it was made, `since`, rows per file,",
        "  every original and recording with its SHA-256, and the sync state (which revision of",
        "  each fact and which originals the cloud already holds).",
        f"- `{ORIGINALS_FOLDER}/ab/cd/<sha256>.<ext>`: the frames the glasses sent, byte for byte;",
        "  a file's name is the SHA-256 of its bytes. Frames deleted after their upload (the",
        "  retention setting) are not here.",
        f"- `{RECORDINGS_FOLDER}/<session>-<time>-input.wav` / `-output.wav`: voice sessions, when",
        "  recording was on: your voice (16 kHz) and the tutor's (24 kHz), PCM16 mono.",
        "- `data/<kind>.jsonl`: one JSON object per line:",
    ]
    for kind, model in ROW_FILES.items():
        lines += field_lines(data_path(kind), model)
    return "\n".join(lines) + "\n"
