"""Wire models of the edge HTTP API: request bodies and the `data` of each response.

Field names are camelCase on the wire (the iOS client of the earlier backend reads them so) and
snake_case in Python.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel

from shared.analysis import FrameAnalysis
from shared.clock import to_iso

Timestamp = Annotated[datetime, PlainSerializer(to_iso, return_type=str)]

#: Longest bookmark note accepted, in characters.
MAX_NOTE_LENGTH = 2000
#: Ids are UUIDs made by the edge; anything much longer is not one of ours.
SessionId = Annotated[str, Field(min_length=1, max_length=64)]


class WireModel(BaseModel):
    """Base of every wire model: camelCase aliases, immutable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class RequestModel(WireModel):
    """Base of request bodies: unknown fields are ignored so older clients keep working.

    Text holding NUL characters is refused: PostgreSQL cannot store them, and no client of
    ours sends them.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        # One pass per model, not a validator per field: sync batches carry thousands of fields.
        for name, value in self.__dict__.items():
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(f"{name} must not contain NUL characters")
        return self


# --- envelope -------------------------------------------------------------------------------


class FieldProblem(WireModel):
    """One reason a request body was refused."""

    field: str
    problem: str


class ErrorBody(WireModel):
    """The `error` member of a failed response."""

    code: str
    message: str
    details: list[FieldProblem] | None = None
    error_id: str | None = None


def success(data: WireModel | dict[str, Any]) -> dict[str, Any]:
    """Wrap `data` in the success envelope."""
    payload = data.model_dump(mode="json", by_alias=True) if isinstance(data, WireModel) else data
    return {"success": True, "data": payload}


def failure(error: ErrorBody) -> dict[str, Any]:
    """Wrap `error` in the failure envelope."""
    return {
        "success": False,
        "error": error.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


# --- requests -------------------------------------------------------------------------------


class SessionStartRequest(RequestModel):
    """Body of `POST /api/session/start`; everything is optional."""


class BookmarkRequest(RequestModel):
    """Body of `POST /api/bookmark`."""

    session_id: SessionId
    analysis_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    note: Annotated[str, Field(max_length=MAX_NOTE_LENGTH)] = ""


class HelpCountRequest(RequestModel):
    """Body of `POST /api/help-count`."""

    session_id: SessionId


# --- responses ------------------------------------------------------------------------------


class TopicStat(WireModel):
    """Time and frame counts for one topic; durations in whole seconds."""

    topic: str
    duration_seconds: int
    active_count: int
    passive_count: int
    distracted_count: int


class SessionStarted(WireModel):
    """A new study session; `status` is what the earlier backend's iOS client reads."""

    session_id: str
    status: Literal["active"] = "active"
    started_at: Timestamp
    date: date
    superseded_session_ids: list[str]


class SessionEnded(WireModel):
    """A session just ended, with its totals (`status` as in `SessionStarted`)."""

    session_id: str
    status: Literal["ended"] = "ended"
    ended_at: Timestamp
    duration_seconds: int
    total_analyses: int
    topic_stats: list[TopicStat]


class SessionTopicStats(WireModel):
    """Topic totals of one session; a running session counts up to now."""

    session_id: str
    active: bool
    started_at: Timestamp
    ended_at: Timestamp | None
    end_reason: str | None
    total_seconds: int
    total_analyses: int
    topic_stats: list[TopicStat]


class DayTopicStats(WireModel):
    """Topic totals of one local calendar day, running sessions included."""

    date: date
    total_seconds: int
    total_analyses: int
    topic_stats: list[TopicStat]


class WeeklyTopicStats(WireModel):
    """The last seven days: totals over the week and a breakdown per day, oldest first."""

    from_date: date
    to_date: date
    total_seconds: int
    topic_stats: list[TopicStat]
    days: list[DayTopicStats]


class SessionSummary(WireModel):
    """One row of the session list."""

    session_id: str
    date: date
    started_at: Timestamp
    ended_at: Timestamp | None
    end_reason: str | None
    total_seconds: int
    total_analyses: int


class Bookmark(WireModel):
    """A moment the student marked."""

    bookmark_id: str
    session_id: str
    analysis_id: str | None
    note: str
    created_at: Timestamp


class BookmarkList(WireModel):
    """The bookmarks of one session, oldest first."""

    session_id: str
    bookmarks: list[Bookmark]


class HelpCounted(WireModel):
    """A help request was recorded."""

    session_id: str
    date: date
    session_count: int
    day_count: int


class SessionHelpCount(WireModel):
    """Help requests of one session on a day."""

    session_id: str
    count: int


class HelpCountReport(WireModel):
    """Help requests on one local day."""

    date: date
    count: int
    sessions: list[SessionHelpCount]


class TaskHealth(WireModel):
    """State of one supervised background task."""

    running: bool
    failures: int
    last_error: str | None


class Health(WireModel):
    """Liveness of the daemon."""

    status: Literal["ok"]
    version: str
    started_at: Timestamp
    uptime_seconds: int
    active_sessions: int
    tasks: dict[str, TaskHealth]


class UploadAnalyzed(WireModel):
    """The answer to one uploaded frame.

    `s3Key`/`s3Url` repeat `imageKey`/`imageUrl` for the earlier iOS client, which read those.
    """

    session_id: str
    image_key: str
    image_url: str
    analysis: FrameAnalysis
    analysis_id: str | None
    uploaded_at: Timestamp
    reused: bool
    source: str
    s3_key: str
    s3_url: str
    #: How sure the analyser was (0-1), when it says: the on-device one does, the model not.
    confidence: float | None = None
