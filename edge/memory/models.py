"""Wire models of the card and review routes, and the ids they take."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from shared.memory import MAX_REVIEW_MS, CardKind, Rating, StateName
from shared.schemas import RequestModel, Timestamp, WireModel

#: Card ids are UUIDs made by the edge; anything much longer is not one of ours.
MAX_CARD_ID_LENGTH = 64
#: Most cards one due-queue read answers, and the default.
MAX_DUE_LIMIT = 100
DEFAULT_DUE_LIMIT = 20
#: Most cards one list answers, and the default.
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 500


class ReviewCard(WireModel):
    """One review card with its schedule."""

    card_id: str
    session_id: str
    analysis_id: str | None
    topic: str
    subtopic: str | None
    kind: CardKind
    question: str
    answer: str
    maker: str
    created_at: Timestamp
    state: StateName
    due: Timestamp
    last_review: Timestamp | None
    stability: float | None
    difficulty: float | None


class ReviewProgress(WireModel):
    """Today's reviewing, in the student's zone."""

    date: date
    reviewed_today: int
    due_now: int


class DueCards(WireModel):
    """The cards due now, soonest first, and how many are due in all."""

    due_count: int
    cards: list[ReviewCard]
    progress: ReviewProgress


class GradeRequest(RequestModel):
    """Body of `POST /api/review/{cardId}/grade`."""

    rating: Rating
    review_duration_ms: Annotated[int, Field(ge=0, le=MAX_REVIEW_MS)] | None = None


class Graded(WireModel):
    """A card was graded: its new schedule and today's progress after it."""

    card: ReviewCard
    rating: Rating
    reviewed_at: Timestamp
    progress: ReviewProgress


class CardList(WireModel):
    """Cards, newest first, optionally of one topic."""

    topic: str | None
    total: int
    cards: list[ReviewCard]


class CardDeleted(WireModel):
    """A card and its review logs are gone."""

    card_id: str
    deleted: Literal[True] = True


class MadeCards(WireModel):
    """What one card-making pass over a session did."""

    session_id: str
    maker: str
    pages_carded: int
    cards: list[ReviewCard]
