"""Cards from a model: one text-only Responses API call per session, through the `openai` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from string import Template
from typing import Annotated, Any

import openai
from openai import AsyncOpenAI
from openai.types.responses import EasyInputMessageParam, ResponseTextConfigParam
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from edge.memory.port import (
    CardDraft,
    CardMakingFailed,
    CardModelBadOutput,
    CardModelRateLimited,
    CardModelRejected,
    CardModelUnavailable,
    Page,
)
from shared.memory import CardKind

#: Output tokens per card (question, answer, keys; measured about 60), with room to spare.
TOKENS_PER_CARD = 120
JSON_OVERHEAD_TOKENS = 50
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 200

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(ge=1)
    kind: CardKind
    question: Annotated[_Text, StringConstraints(max_length=MAX_QUESTION_CHARS)]
    answer: Annotated[_Text, StringConstraints(max_length=MAX_ANSWER_CHARS)]


class _ModelCards(BaseModel):
    """The answer the schema asks for."""

    model_config = ConfigDict(extra="forbid")

    cards: list[_ModelCard]


def cards_schema() -> dict[str, Any]:
    """The strict JSON schema of the answer (every property required, nothing more)."""
    card = {
        "type": "object",
        "properties": {
            "page": {"type": "integer", "description": "Number of the page the card is from."},
            "kind": {"type": "string", "enum": ["qa", "cloze"]},
            "question": {"type": "string"},
            "answer": {"type": "string"},
        },
        "required": ["page", "kind", "question", "answer"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"cards": {"type": "array", "items": card}},
        "required": ["cards"],
        "additionalProperties": False,
    }


def render_prompt(limit: int) -> str:
    """The instructions, from `cards_prompt.md`, with the card cap filled in."""
    text = files("edge.memory").joinpath("cards_prompt.md").read_text(encoding="utf-8")
    return Template(text).substitute(limit=limit)


def pages_text(pages: Sequence[Page]) -> str:
    """The pages as the model reads them: numbered, with their topic."""
    return "\n\n".join(
        f"Page {n} ({page.topic}{': ' + page.subtopic if page.subtopic else ''}):\n{page.text}"
        for n, page in enumerate(pages, start=1)
    )


def output_token_cap(limit: int) -> int:
    """Enough output tokens for `limit` cards and the JSON around them."""
    return JSON_OVERHEAD_TOKENS + TOKENS_PER_CARD * limit


def parse_cards(text: str, pages: Sequence[Page], limit: int) -> list[CardDraft]:
    """The model's JSON as drafts; anything off the schema, or off the pages, is bad output."""
    try:
        answer = _ModelCards.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise CardModelBadOutput(
            f"The model's cards do not match the schema ({problems})."
        ) from exc
    if any(card.page > len(pages) for card in answer.cards):
        raise CardModelBadOutput("The model's cards name pages it was not given.")
    drafts = []
    for card in answer.cards[:limit]:
        page = pages[card.page - 1]
        drafts.append(
            CardDraft(
                page.event_id, page.topic, page.subtopic, card.kind, card.question, card.answer
            )
        )
    return drafts


class OpenAICards:
    """Makes a session's cards in one call: the pages' text in, a strict JSON list out."""

    def __init__(self, client: AsyncOpenAI, *, model: str) -> None:
        self._client = client
        self._model = model
        self.name = model

    async def make(self, pages: Sequence[Page], limit: int) -> list[CardDraft]:
        """Ask the model once; raise a `CardMakingFailed` for every way it can fail."""
        message: EasyInputMessageParam = {"role": "user", "content": pages_text(pages)}
        answer_format: ResponseTextConfigParam = {
            "format": {
                "type": "json_schema",
                "name": "review_cards",
                "schema": cards_schema(),
                "strict": True,
            }
        }
        try:
            response = await self._client.responses.create(
                model=self._model,
                instructions=render_prompt(limit),
                input=[message],
                text=answer_format,
                store=False,
                max_output_tokens=output_token_cap(limit),
            )
        except openai.RateLimitError as exc:
            raise CardModelRateLimited("The model provider is rate limiting this key.") from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise CardModelRejected("The model provider refused the API key.") from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise CardModelUnavailable("The model provider could not be reached in time.") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise CardModelUnavailable(
                    f"The model provider failed (HTTP {exc.status_code})."
                ) from exc
            raise CardModelRejected(
                f"The model provider refused the request (HTTP {exc.status_code})."
            ) from exc
        except openai.OpenAIError as exc:
            raise CardMakingFailed(f"The card request failed: {exc}") from exc
        except (ValueError, TypeError) as exc:  # a 200 whose body is not the API's JSON
            raise CardModelUnavailable(f"The model provider answered garbage: {exc}.") from exc
        try:
            status = response.status
            text = response.output_text
        except (AttributeError, TypeError) as exc:
            raise CardModelUnavailable(
                f"The provider's answer is not a Responses API object: {exc}."
            ) from exc
        if status != "completed":
            raise CardModelBadOutput(f"The model's answer is {status}.")
        if not text.strip():
            raise CardModelBadOutput("The model answered with no text (a refusal?).")
        return parse_cards(text, pages, limit)

    async def close(self) -> None:
        """Close the SDK's HTTP client."""
        await self._client.close()
