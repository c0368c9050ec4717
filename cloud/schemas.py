"""Wire models only the cloud API uses (the ones the edge shares live in `shared/`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from shared.schemas import ErrorBody, RequestModel, SessionSummary, Timestamp, WireModel

T = TypeVar("T")


class Ok(BaseModel, Generic[T]):
    """The success envelope: `{"success": true, "data": ...}`."""

    success: Literal[True] = True
    data: T


class Failed(BaseModel):
    """The failure envelope: `{"success": false, "error": {...}}`."""

    success: Literal[False] = False
    error: ErrorBody


class GoogleSignIn(RequestModel):
    """Body of `POST /api/auth/google`."""

    id_token: Annotated[str, Field(min_length=20, max_length=8192)]


class SignedOut(WireModel):
    """The answer to a logout."""

    signed_out: bool


class Me(WireModel):
    """The signed-in account."""

    user_id: str
    email: str
    name: str | None
    role: str
    scope: str
    device_id: str | None


class PendingDevice(WireModel):
    """What a user code links, shown before approval: the edge's name and when it asked."""

    user_code: str
    device_name: str
    requested_at: Timestamp
    expires_at: Timestamp
    approved: bool


class DeviceInfo(WireModel):
    """A linked device."""

    device_id: str
    user_id: str
    name: str
    created_at: Timestamp
    last_seen_at: Timestamp | None
    revoked_at: Timestamp | None


class LinkedDevices(WireModel):
    """The caller's devices, newest first."""

    devices: list[DeviceInfo]


class Revoked(WireModel):
    """Something was revoked."""

    revoked: bool
    count: int = 1


class SessionsInRange(WireModel):
    """Sessions in a date range, newest first."""

    from_date: date
    to_date: date
    sessions: list[SessionSummary]


class DayRecall(WireModel):
    """Cards graded on one local day, and how many of them were recalled."""

    date: date
    reviewed: int
    recalled: int


class TopicRecall(WireModel):
    """Grades of one topic's cards in the week; `share` is recalled / reviewed.

    `topic` is null for grades of cards the cloud does not hold (not synced yet, or forgotten).
    """

    topic: str | None
    reviewed: int
    recalled: int
    share: float


class WeeklyRecall(WireModel):
    """Review over seven local days, all of the student's edges together, oldest day first.

    `share` is recalled / reviewed, null when nothing was graded; `cardsMade` counts the cards
    made in the week, `cards` every card the cloud holds.
    """

    from_date: date
    to_date: date
    time_zone: str
    reviewed: int
    recalled: int
    share: float | None
    topics: list[TopicRecall]
    days: list[DayRecall]
    cards_made: int
    cards: int


class UserInfo(WireModel):
    """A user as an admin sees it."""

    user_id: str
    email: str
    name: str | None
    role: str
    created_at: Timestamp
    last_sign_in_at: Timestamp
    devices: int


class UserList(WireModel):
    """Every user."""

    users: list[UserInfo]


class Stats(WireModel):
    """Counts across the whole service."""

    counts: dict[str, int]


class RoleChange(RequestModel):
    """Body of `POST /api/admin/users/{who}/role`."""

    role: Literal["student", "admin"]


class ServiceHealth(WireModel):
    """Liveness or readiness."""

    status: Literal["ok"]
    version: str
    checks: dict[str, str] = Field(default_factory=dict)


def failures(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the failure envelope for `statuses`."""
    return {status: {"model": Failed} for status in statuses}
