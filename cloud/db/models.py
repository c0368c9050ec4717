"""Tables of the cloud database (SQLAlchemy 2 declarative); Alembic migrations create them.

Facts keep the UUIDs the edge made, so an upsert by id makes every replay harmless; each fact row
carries the user and device that sent it, taken from the token, never from the body.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(36)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; naive values are refused, not guessed."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every table; constraint names are fixed so migrations can refer to them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), date: Date()}


# --- accounts and tokens --------------------------------------------------------------------


class User(Base):
    """A student (or admin), keyed by Google's `sub`."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    google_sub: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="student")
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime]
    #: Access tokens issued before this moment are refused (an admin revoked the user's tokens).
    tokens_revoked_at: Mapped[datetime | None]


class DeviceRow(Base):
    """An edge daemon linked to a user's account."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DeviceCodeRow(Base):
    """A pending link of an edge (RFC 8628): a user code to approve, a device code to poll."""

    __tablename__ = "device_codes"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    interval: Mapped[int] = mapped_column(Integer)
    last_polled_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]


class ApprovalAttempts(Base):
    """Wrong user codes a student entered: the lock-out of `/api/devices/approve` and `lookup`.

    In the database, so every API process sees the same count; the row is locked while a code
    is checked, so parallel guesses are counted one after another.
    """

    __tablename__ = "approval_attempts"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class RateWindow(Base):
    """Requests one key (e.g. a route and a client address) made in its current fixed window."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(Integer)


class RefreshToken(Base):
    """An opaque refresh token, stored as its SHA-256; one family per sign-in or linked device.

    `successor_sealed` holds the next token of the family encrypted under a key derived from this
    token itself, so a client that lost a refresh response can get the same successor back within
    the grace period, and a copy of the database alone reveals no usable token.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    successor_id: Mapped[str | None] = mapped_column(ID)
    successor_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class RevokedAccessToken(Base):
    """The `jti` of a signed-out access token, kept until the token would have expired."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- facts from the edges -------------------------------------------------------------------


class FactColumns:
    """Columns every fact table has: its edge-made id, owner, sender and revision."""

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID)
    device_id: Mapped[str] = mapped_column(ID)
    revision: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime]


class StudySession(FactColumns, Base):
    """A study session as the edge recorded it."""

    __tablename__ = "study_sessions"
    __table_args__ = (Index("ix_study_sessions_user_date", "user_id", "local_date"),)

    local_date: Mapped[date]
    started_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))


#: The values `learning_events.confidence` may hold (NaN fails it: PostgreSQL orders NaN last).
CONFIDENCE_RANGE = "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)"


class LearningEvent(FactColumns, Base):
    """One frame's analysis (or its failure)."""

    __tablename__ = "learning_events"
    __table_args__ = (
        Index("ix_learning_events_user_date", "user_id", "local_date"),
        # Ingest validates it too; the table holds the line whatever path writes to it.
        CheckConstraint(CONFIDENCE_RANGE, name="confidence"),
    )

    session_id: Mapped[str] = mapped_column(ID, index=True)
    local_date: Mapped[date]
    captured_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    #: How sure `source` was, 0-1; NULL from older edges and analysers that cannot say.
    confidence: Mapped[float | None] = mapped_column(Float)
    topic: Mapped[str | None] = mapped_column(String(64))
    subtopic: Mapped[str | None] = mapped_column(String(200))
    is_studying: Mapped[bool | None] = mapped_column(Boolean)
    is_active: Mapped[bool | None] = mapped_column(Boolean)
    is_distracted: Mapped[bool | None] = mapped_column(Boolean)
    extracted_text: Mapped[str] = mapped_column(Text)
    image_sha256: Mapped[str | None] = mapped_column(String(64))


class TopicSegment(FactColumns, Base):
    """A stretch of one topic; `seconds` is its duration, or up to its last frame while open."""

    __tablename__ = "topic_segments"
    __table_args__ = (Index("ix_topic_segments_user_date", "user_id", "local_date"),)

    session_id: Mapped[str] = mapped_column(ID, index=True)
    topic: Mapped[str] = mapped_column(String(64))
    local_date: Mapped[date]
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    seconds: Mapped[float] = mapped_column(Float)
    active_count: Mapped[int] = mapped_column(Integer)
    passive_count: Mapped[int] = mapped_column(Integer)
    distracted_count: Mapped[int] = mapped_column(Integer)


class BookmarkRow(FactColumns, Base):
    """A moment the student marked."""

    __tablename__ = "bookmarks"

    session_id: Mapped[str] = mapped_column(ID, index=True)
    learning_event_id: Mapped[str | None] = mapped_column(ID)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class HelpRequest(FactColumns, Base):
    """One request for help."""

    __tablename__ = "help_requests"
    __table_args__ = (Index("ix_help_requests_user_date", "user_id", "local_date"),)

    session_id: Mapped[str] = mapped_column(ID, index=True)
    local_date: Mapped[date]
    created_at: Mapped[datetime]


class ScheduleColumns:
    """A card's FSRS schedule (`shared.sync.Schedule`), on a card and on each of its grades."""

    #: By name, as the edge sends it: `learning`, `review` or `relearning`.
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[int | None] = mapped_column(Integer)
    stability: Mapped[float | None] = mapped_column(Float)
    difficulty: Mapped[float | None] = mapped_column(Float)
    due: Mapped[datetime]
    last_review: Mapped[datetime | None]


class CardRow(FactColumns, ScheduleColumns, Base):
    """A review card made from a session's pages, with its FSRS schedule after its last grade."""

    __tablename__ = "cards"
    # Counted per student in total and by when they were made (`cloud.review_stats`).
    __table_args__ = (Index("ix_cards_user_created", "user_id", "created_at"),)

    session_id: Mapped[str] = mapped_column(ID, index=True)
    learning_event_id: Mapped[str | None] = mapped_column(ID)
    topic: Mapped[str] = mapped_column(String(64))
    subtopic: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    maker: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ReviewLogRow(FactColumns, ScheduleColumns, Base):
    """One grade of one card, and the schedule it left."""

    __tablename__ = "review_logs"
    # The weekly review figures read a student's grades by instant (`cloud.review_stats`).
    __table_args__ = (Index("ix_review_logs_user_reviewed", "user_id", "reviewed_at"),)

    card_id: Mapped[str] = mapped_column(ID, index=True)
    #: `again`, `hard`, `good` or `easy`, by name as the edge sends it.
    rating: Mapped[str] = mapped_column(String(8))
    reviewed_at: Mapped[datetime]
    review_duration_ms: Mapped[int | None] = mapped_column(Integer)


class Image(Base):
    """An original image confirmed in the object store, under its owner's prefix."""

    __tablename__ = "images"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime]


FACT_TABLES: dict[str, type[FactColumns]] = {
    "session": StudySession,
    "learning_event": LearningEvent,
    "topic_segment": TopicSegment,
    "bookmark": BookmarkRow,
    "help_request": HelpRequest,
    "card": CardRow,
    "review_log": ReviewLogRow,
}
