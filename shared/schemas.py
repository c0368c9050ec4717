"""Wire models both sides speak: the base models, the envelope, and topic totals.

The edge's HTTP API and the cloud's answer in the same envelope and report study time in the
same shapes (`DayTopicStats`, `WeeklyTopicStats`, `SessionSummary`). Models only one side uses
live on that side (the edge's next to their routes or domain modules). Field names are camelCase
on the wire (the iOS client of the earlier backend reads them so) and snake_case in Python.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel

from shared.clock import to_iso

Timestamp = Annotated[datetime, PlainSerializer(to_iso, return_type=str)]


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


# --- topic totals ---------------------------------------------------------------------------


class TopicStat(WireModel):
    """Time and frame counts for one topic; durations in whole seconds."""

    topic: str
    duration_seconds: int
    active_count: int
    passive_count: int
    distracted_count: int


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
