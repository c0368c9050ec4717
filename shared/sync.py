"""Wire models of edge → cloud sync: facts in batches, and images by presigned upload.

The edge sends facts, never counters: each fact has a UUID made at the edge and a revision that
grows whenever the edge changes it (a session that ends, a topic segment that grows), so the cloud
can upsert by id and ignore a replay or an older copy that arrives late.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

from shared.schemas import ErrorBody, RequestModel, Timestamp, WireModel

#: Most items one batch may carry.
MAX_BATCH_ITEMS = 500
#: Most images one presign request may ask for.
MAX_PRESIGN_ITEMS = 100
#: Largest image the cloud stores, as on the edge's upload route.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")

Kind = Literal["session", "learning_event", "topic_segment", "bookmark", "help_request"]
KINDS: tuple[Kind, ...] = ("session", "learning_event", "topic_segment", "bookmark", "help_request")

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: A UUID in its canonical lowercase text form, as `str(uuid.uuid4())` writes it. Kept as text
#: (no UUID object) because it is stored and compared as text, and one id has one spelling.
Uuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
Name = Annotated[str, Field(min_length=1, max_length=64)]
When = Annotated[AwareDatetime, Field()]


class Fact(RequestModel):
    """Base of fact payloads: what the edge recorded, without the ids the cloud assigns."""


class SessionFact(Fact):
    """A study session."""

    local_date: date
    started_at: When
    last_activity_at: When
    ended_at: When | None = None
    end_reason: Literal["ended", "idle", "superseded"] | None = None


class LearningEventFact(Fact):
    """One analysed (or failed) frame."""

    session_id: Uuid
    local_date: date
    captured_at: When
    outcome: Literal["analysed", "reused", "failed"]
    error_code: Annotated[str, Field(max_length=64)] | None = None
    source: Annotated[str, Field(max_length=64)] | None = None
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
    local_date: date
    started_at: When
    last_seen_at: When
    ended_at: When | None = None
    duration_seconds: Annotated[float, Field(ge=0, le=86_400 * 2)] | None = None
    active_count: Annotated[int, Field(ge=0)] = 0
    passive_count: Annotated[int, Field(ge=0)] = 0
    distracted_count: Annotated[int, Field(ge=0)] = 0

    def seconds(self) -> float:
        """Time the segment covers: its recorded duration, or up to its last frame while open."""
        if self.duration_seconds is not None:
            return self.duration_seconds
        return max(0.0, (self.last_seen_at - self.started_at).total_seconds())


class BookmarkFact(Fact):
    """A moment the student marked."""

    session_id: Uuid
    learning_event_id: Uuid | None = None
    note: Annotated[str, Field(max_length=2000)] = ""
    created_at: When


class HelpRequestFact(Fact):
    """One request for help."""

    session_id: Uuid
    local_date: date
    created_at: When


class _Item(RequestModel):
    """Fields every item has: the fact's edge-made id and its revision."""

    id: Uuid
    revision: Annotated[int, Field(ge=0, le=2**62)] = 0


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


SyncItem = Annotated[
    SessionItem | LearningEventItem | TopicSegmentItem | BookmarkItem | HelpRequestItem,
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
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    next_retry_at: str | None
    failures: int
