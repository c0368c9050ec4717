"""Wire models of the session routes: start, end, a session's topic totals, session ids."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import RequestModel, Timestamp, TopicStat, WireModel

#: Ids are UUIDs made by the edge; anything much longer is not one of ours.
SessionId = Annotated[str, Field(min_length=1, max_length=64)]


class SessionStartRequest(RequestModel):
    """Body of `POST /api/session/start`; everything is optional."""


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
