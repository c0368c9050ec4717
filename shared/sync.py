"""Wire models of edge → cloud sync: facts in batches, and images by presigned upload.

The edge sends facts, never counters: each fact has a UUID made at the edge and a revision that
grows whenever the edge changes it (a session that ends, a topic segment that grows), so the cloud
can upsert by id and ignore a replay or an older copy that arrives late.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, AwareDatetime, Field, TypeAdapter, model_validator

from shared.memory import MAX_CARD_TEXT, MAX_REVIEW_MS, CardKind, Rating, StateName
from shared.schemas import ErrorBody, RequestModel, Timestamp, WireModel

#: Most items one batch may carry.
MAX_BATCH_ITEMS = 500
#: Most images one presign request may ask for.
MAX_PRESIGN_ITEMS = 100
#: Largest image the cloud stores, as on the edge's upload route.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")

Kind = Literal[
    "session", "learning_event", "topic_segment", "bookmark", "help_request", "card", "review_log"
]
KINDS: tuple[Kind, ...] = (
    "session",
    "learning_event",
    "topic_segment",
    "bookmark",
    "help_request",
    "card",
    "review_log",
)
#: Every item kind a batch may carry: the facts, and deletions of them.
ITEM_KINDS = (*KINDS, "tombstone")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Sha256 = Annotated[str, Field(pattern=f"^{_SHA256.pattern}$")]
#: A UUID in its canonical lowercase text form, as `str(uuid.uuid4())` writes it. Kept as text
#: (no UUID object) because it is stored and compared as text, and one id has one spelling.
Uuid = Annotated[str, Field(pattern=f"^{_UUID.pattern}$")]
Name = Annotated[str, Field(min_length=1, max_length=64)]

# --- bounds: what an edge can really record. A value outside is a bug or a forgery; the cloud
# rejects that item alone, and its sums can never overflow.

#: Instants and local dates lie in [2000-01-01, 2101-01-01) UTC, after the offset is applied.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
#: An analyser's confidence: a probability, finite.
Confidence = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
#: The longest local day (25 hours, when daylight saving time ends): a segment lies in one.
MAX_DAY_SECONDS = 25 * 3600
#: Frames one segment may count: more than one a second for a whole day.
MAX_COUNT = 100_000
#: Revisions grow by one per change; this leaves room without ever reaching BIGINT's end.
MAX_REVISION = 2**62
#: How much a recorded duration may exceed its span: the span is rebuilt from millisecond text.
DURATION_SLACK = timedelta(seconds=1)


def _in_span(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        raise ValueError("must lie between 2000 and 2100") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("must lie between 2000 and 2100")
    return utc


When = Annotated[AwareDatetime, AfterValidator(_in_span)]
Day = Annotated[date, Field(ge=EARLIEST.date(), lt=LATEST.date())]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
DaySeconds = Annotated[float, Field(ge=0, le=MAX_DAY_SECONDS, allow_inf_nan=False)]


def _not_before(later: datetime | None, earlier: datetime, later_name: str, name: str) -> None:
    if later is not None and later < earlier:
        raise ValueError(f"{later_name} is before {name}")


class Fact(RequestModel):
    """Base of fact payloads: what the edge recorded, without the ids the cloud assigns."""


class SessionFact(Fact):
    """A study session."""

    local_date: Day
    started_at: When
    last_activity_at: When
    ended_at: When | None = None
    end_reason: Literal["ended", "idle", "superseded"] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _not_before(self.last_activity_at, self.started_at, "lastActivityAt", "startedAt")
        _not_before(self.ended_at, self.started_at, "endedAt", "startedAt")
        return self


class LearningEventFact(Fact):
    """One analysed (or failed) frame."""

    session_id: Uuid
    local_date: Day
    captured_at: When
    outcome: Literal["analysed", "reused", "failed"]
    error_code: Annotated[str, Field(max_length=64)] | None = None
    source: Annotated[str, Field(max_length=64)] | None = None
    #: How sure `source` was; absent from edges older than it, and from analysers that
    #: cannot say.
    confidence: Confidence | None = None
    topic: Name | None = None
    subtopic: Annotated[str, Field(max_length=200)] | None = None
    is_studying: bool | None = None
    is_active: bool | None = None
    is_distracted: bool | None = None
    extracted_text: Annotated[str, Field(max_length=20_000)] = ""
    image_sha256: Sha256 | None = None


class TopicSegmentFact(Fact):
    """A stretch of one topic within one session and local day; open while `endedAt` is null."""

    session_id: Uuid
    topic: Name
    local_date: Day
    started_at: When
    last_seen_at: When
    ended_at: When | None = None
    duration_seconds: DaySeconds | None = None
    active_count: Count = 0
    passive_count: Count = 0
    distracted_count: Count = 0

    @model_validator(mode="after")
    def _within_one_day(self) -> Self:
        _not_before(self.last_seen_at, self.started_at, "lastSeenAt", "startedAt")
        _not_before(self.ended_at, self.last_seen_at, "endedAt", "lastSeenAt")
        span = self._span()
        if span > timedelta(seconds=MAX_DAY_SECONDS):
            raise ValueError(f"spans more than one day ({MAX_DAY_SECONDS} s)")
        if self.duration_seconds is not None and (
            timedelta(seconds=self.duration_seconds) > span + DURATION_SLACK
        ):
            raise ValueError("durationSeconds is longer than startedAt to endedAt")
        return self

    def _span(self) -> timedelta:
        return (self.ended_at or self.last_seen_at) - self.started_at

    def seconds(self) -> float:
        """Time the segment covers: its recorded duration, or up to its last frame while open.

        Never more than its own start to end, whatever the duration says.
        """
        span = max(0.0, self._span().total_seconds())
        if self.duration_seconds is not None:
            return min(self.duration_seconds, span)
        return span


class BookmarkFact(Fact):
    """A moment the student marked."""

    session_id: Uuid
    learning_event_id: Uuid | None = None
    note: Annotated[str, Field(max_length=2000)] = ""
    created_at: When


class HelpRequestFact(Fact):
    """One request for help."""

    session_id: Uuid
    local_date: Day
    created_at: When


#: Text of a card's question or answer.
CardText = Annotated[str, Field(min_length=1, max_length=MAX_CARD_TEXT)]


class Schedule(Fact):
    """A card's FSRS state, as the `fsrs` package's `Card` holds it: after its last grade."""

    state: StateName
    #: The learning or relearning step; null in review.
    step: Annotated[int, Field(strict=True, ge=0, le=100)] | None = None
    stability: Annotated[float, Field(strict=True, gt=0, le=1e6, allow_inf_nan=False)] | None = None
    difficulty: Annotated[float, Field(strict=True, ge=1, le=10, allow_inf_nan=False)] | None = None
    due: When
    last_review: When | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.stability is None) != (self.difficulty is None):
            raise ValueError("stability and difficulty come together")
        if (self.state == "review") != (self.step is None):
            raise ValueError("a card in review has no step; one learning has one")
        if self.last_review is not None:
            _not_before(self.due, self.last_review, "due", "lastReview")
        return self


class CardFact(Schedule):
    """A review card made from a page of a session, with its schedule now."""

    session_id: Uuid
    learning_event_id: Uuid | None = None
    topic: Name
    subtopic: Annotated[str, Field(max_length=200)] | None = None
    kind: CardKind
    question: CardText
    answer: CardText
    maker: Name
    created_at: When


class ReviewLogFact(Schedule):
    """One grade of one card, and the schedule it left (the card's state right after)."""

    card_id: Uuid
    rating: Rating
    reviewed_at: When
    review_duration_ms: Annotated[int, Field(strict=True, ge=0, le=MAX_REVIEW_MS)] | None = None


class _Item(RequestModel):
    """Fields every item has: the fact's edge-made id and its revision."""

    id: Uuid
    revision: Annotated[int, Field(strict=True, ge=0, le=MAX_REVISION)] = 0


class SessionItem(_Item):
    """A session in a batch."""

    kind: Literal["session"] = "session"
    payload: SessionFact


class LearningEventItem(_Item):
    """A learning event in a batch."""

    kind: Literal["learning_event"] = "learning_event"
    payload: LearningEventFact


class TopicSegmentItem(_Item):
    """A topic segment in a batch."""

    kind: Literal["topic_segment"] = "topic_segment"
    payload: TopicSegmentFact


class BookmarkItem(_Item):
    """A bookmark in a batch."""

    kind: Literal["bookmark"] = "bookmark"
    payload: BookmarkFact


class HelpRequestItem(_Item):
    """A help request in a batch."""

    kind: Literal["help_request"] = "help_request"
    payload: HelpRequestFact


class CardItem(_Item):
    """A review card in a batch."""

    kind: Literal["card"] = "card"
    payload: CardFact


class ReviewLogItem(_Item):
    """A review log (one grade) in a batch."""

    kind: Literal["review_log"] = "review_log"
    payload: ReviewLogFact


#: What a tombstone can delete: a fact of any kind, or an original named by its SHA-256.
Forgettable = Literal[
    "session",
    "learning_event",
    "topic_segment",
    "bookmark",
    "help_request",
    "card",
    "review_log",
    "image",
]


class Tombstone(Fact):
    """A deletion: the student forgot this fact (or original) on the edge.

    It says what, never when or why: the cloud keeps nothing of a forgotten fact.
    """

    fact_kind: Forgettable


class TombstoneItem(RequestModel):
    """A deletion in a batch: `id` is the fact's UUID, or the SHA-256 of an original.

    Its revision is one past the fact's last, so a copy of the fact that arrives late (older)
    never brings it back, and a replay of the deletion deletes nothing more.
    """

    kind: Literal["tombstone"] = "tombstone"
    id: Annotated[str, Field(min_length=36, max_length=64)]
    revision: Annotated[int, Field(strict=True, ge=0, le=MAX_REVISION)] = 0
    payload: Tombstone

    @model_validator(mode="after")
    def _id_fits_kind(self) -> Self:
        shape = _SHA256 if self.payload.fact_kind == "image" else _UUID
        if not shape.fullmatch(self.id):
            what = "a SHA-256 (64 hex)" if self.payload.fact_kind == "image" else "a UUID"
            raise ValueError(f"the id of a {self.payload.fact_kind} tombstone must be {what}")
        return self


SyncItem = Annotated[
    SessionItem
    | LearningEventItem
    | TopicSegmentItem
    | BookmarkItem
    | HelpRequestItem
    | CardItem
    | ReviewLogItem
    | TombstoneItem,
    Field(discriminator="kind"),
]
#: Checks one item, kind and payload in one pass (raises `pydantic.ValidationError`).
SYNC_ITEM: TypeAdapter[SyncItem] = TypeAdapter(SyncItem)


class SyncBatch(RequestModel):
    """Body of `POST /api/sync/batch`: at most `MAX_BATCH_ITEMS` items (more: 413).

    Items are checked one by one, so a malformed one is rejected alone.
    """

    items: Annotated[list[Any], Field(min_length=1)]


class ItemResult(WireModel):
    """What became of one item: `stored` (new or newer), `unchanged` (a replay), `rejected`."""

    index: int
    id: str | None
    status: Literal["stored", "unchanged", "rejected"]
    error: ErrorBody | None = None


class SyncBatchResult(WireModel):
    """Per-item acknowledgements, in the order of the batch."""

    stored: int
    unchanged: int
    rejected: int
    results: list[ItemResult]


# --- images ---------------------------------------------------------------------------------


class ImageRef(RequestModel):
    """An original the edge holds, named by its content."""

    sha256: Sha256
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    size: Annotated[int, Field(ge=1, le=MAX_IMAGE_BYTES)]


class PresignRequest(RequestModel):
    """Body of `POST /api/sync/images/presign`."""

    items: Annotated[list[ImageRef], Field(min_length=1, max_length=MAX_PRESIGN_ITEMS)]


class PresignedUpload(WireModel):
    """Where and how to upload one image: send exactly these headers with a PUT of the bytes."""

    sha256: str
    method: Literal["PUT"] = "PUT"
    url: str
    headers: dict[str, str]
    expires_at: Timestamp


class PresignResult(WireModel):
    """Uploads still to make, and the images the cloud already holds."""

    uploads: list[PresignedUpload]
    stored: list[str]


class SyncStatus(WireModel):
    """How the edge's sync stands: for `/api/sync/status`, `/healthz` and the CLI."""

    enabled: bool
    linked: bool
    cloud_url: str | None
    device_id: str | None
    pending_facts: int
    pending_images: int
    rejected_facts: int
    #: Of `pending_facts`: deletions (forgotten facts and originals) the cloud is still to make.
    pending_deletions: int = 0
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    next_retry_at: str | None
    failures: int
