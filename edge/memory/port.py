"""The card-maker port: pages of a session in, card drafts out, and how making fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from edge.errors import EdgeError
from shared.memory import CardKind


@dataclass(frozen=True)
class Page:
    """One distinct page of a session: a learning event whose text changed."""

    event_id: str
    topic: str
    subtopic: str | None
    text: str


@dataclass(frozen=True)
class CardDraft:
    """A card a maker proposes, tied to the page it came from."""

    event_id: str
    topic: str
    subtopic: str | None
    kind: CardKind
    question: str
    answer: str


class CardMaker(Protocol):
    """Turns a session's pages into at most `limit` card drafts."""

    #: What the stored cards say made them (`on-device`, or the model's name).
    name: str

    async def make(self, pages: Sequence[Page], limit: int) -> list[CardDraft]:
        """Draft cards from `pages`; raise a `CardMakingFailed` on any failure."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class CardMakingFailed(EdgeError):
    """No cards could be made; the pages stay uncarded, so a later pass tries again."""

    http_status = 502
    code = "card_making_failed"


class CardModelRateLimited(CardMakingFailed):
    """The provider kept answering 429 after the retries."""

    http_status = 503
    code = "card_model_rate_limited"


class CardModelUnavailable(CardMakingFailed):
    """The provider failed, timed out or could not be reached."""

    code = "card_model_unavailable"


class CardModelRejected(CardMakingFailed):
    """The provider refused the request itself (bad key, bad request)."""

    code = "card_model_rejected"


class CardModelBadOutput(CardMakingFailed):
    """The model answered something that is not the cards JSON (or refused)."""

    code = "card_model_bad_output"
