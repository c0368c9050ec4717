"""What the edge's and the cloud's export archives share: the layout, its names and paths.

One zip, format version 1, the same on both sides:

    manifest.json                    what the archive is (format, versions, source) and holds
    README.md                        every file and every field, made from the row models
    data/<kind>.jsonl                one camelCase JSON object per line, one file per kind
    originals/ab/cd/<sha256>.<ext>   the original frames, byte for byte

The row models differ by side (the edge keeps study days and analyses, the cloud keeps who sent
each fact and when), so each side has its own; their README sections come from `field_lines`.
The fields that mean the same on both sides are here (`BookmarkFields`, `HelpRequestFields`),
and each side's line model is these plus its own base.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from pydantic import BaseModel, Field

from shared.memory import CardKind, Rating, StateName
from shared.schemas import Timestamp, WireModel

FORMAT: Final = "studylens-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
README = "README.md"
DATA_FOLDER = "data"
ORIGINALS_FOLDER = "originals"
#: The file extension of each image type the edge keeps and the cloud stores.
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
#: An original's path below `ORIGINALS_FOLDER`: `ab/cd/<sha256>.<ext>`.
ORIGINAL_PATH = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})\.(jpg|png|webp)")


def data_path(kind: str) -> str:
    """The archive path of one kind's JSON Lines."""
    return f"{DATA_FOLDER}/{kind}.jsonl"


def original_path(sha256: str, content_type: str) -> str:
    """The archive path of an original: sharded by the first two bytes of its hash."""
    return f"{ORIGINALS_FOLDER}/{sha256[:2]}/{sha256[2:4]}/{sha256}.{EXTENSIONS[content_type]}"


class ArchivedFile(WireModel):
    """A file the archive carries besides the rows, as the manifest lists it."""

    path: str = Field(description="its path in the archive")
    sha256: str = Field(description="SHA-256 of its bytes, hex")
    bytes: int = Field(ge=0)


def field_lines(path: str, model: type[BaseModel]) -> list[str]:
    """The README section of one JSON Lines file: its model's docstring and every field."""
    lines = ["", f"### `{path}`", "", (model.__doc__ or "").strip(), ""]
    for name, field in model.model_fields.items():
        lines.append(f"- `{field.alias or name}`: {field.description}")
    return lines


# --- the row fields both sides share -----------------------------------------------------
# A line model lists one of these before its side's base (`class BookmarkLine(BookmarkFields,
# JsonLine)`): pydantic then keeps the base's fields first and takes `id`'s description from here.


class BookmarkFields(WireModel):
    """A bookmark's fields, the same on the edge and in the cloud."""

    id: str = Field(description="UUID of the bookmark")
    session_id: str = Field(description="its session")
    learning_event_id: str | None = Field(description="the frame it marks, when one")
    note: str = Field(description="the student's note (may be empty)")
    created_at: Timestamp = Field(description="when it was made (UTC)")


class HelpRequestFields(WireModel):
    """A help request's fields, the same on the edge and in the cloud."""

    id: str = Field(description="UUID of the request")
    session_id: str = Field(description="its session")
    local_date: date = Field(description="its day, YYYY-MM-DD in the student's time zone")
    created_at: Timestamp = Field(description="when it was asked (UTC)")


class ScheduleFields(WireModel):
    """A card's FSRS state (the `fsrs` package's `Card`), on both sides."""

    state: StateName = Field(description="`learning`, `review` or `relearning`")
    step: int | None = Field(description="the learning or relearning step; null in review")
    stability: float | None = Field(
        description="FSRS stability: days until recall falls to 90%; null before the first grade"
    )
    difficulty: float | None = Field(
        description="FSRS difficulty, 1 (easy) to 10; null before the first grade"
    )
    due: Timestamp = Field(description="when the card is next due (UTC)")
    last_review: Timestamp | None = Field(description="its last grade (UTC); null if never")


class CardFields(ScheduleFields):
    """A review card's fields, the same on the edge and in the cloud."""

    id: str = Field(description="UUID of the card")
    session_id: str = Field(description="the session whose pages it was made from")
    learning_event_id: str | None = Field(description="the page (learning event) it asks about")
    topic: str = Field(description="its topic")
    subtopic: str | None = Field(description="its subtopic, when one was named")
    kind: CardKind = Field(description="`qa` (question and answer) or `cloze` (fill the blank)")
    question: str = Field(description="the question, or the sentence with its blank")
    answer: str = Field(description="the answer, or the words of the blank")
    maker: str = Field(description="what made it: `on-device`, or the model's name")
    created_at: Timestamp = Field(description="when it was made (UTC)")


class ReviewLogFields(ScheduleFields):
    """One grade of a card and the schedule it left, the same on the edge and in the cloud."""

    id: str = Field(description="UUID of the grade")
    card_id: str = Field(description="the card graded (its `id` in cards.jsonl)")
    rating: Rating = Field(description="`again` (forgotten), `hard`, `good` or `easy`")
    reviewed_at: Timestamp = Field(description="when it was graded (UTC)")
    review_duration_ms: int | None = Field(
        description="milliseconds from showing the card to the grade, when measured"
    )
