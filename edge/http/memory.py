"""Routes of study memory: making a session's cards, the due queue, grading, the card list."""

from __future__ import annotations

from aiohttp import web

from edge.errors import CardNotFound, InvalidRequest
from edge.http.context import services
from edge.http.envelope import ok, query_limit, read_json
from edge.memory.models import (
    DEFAULT_DUE_LIMIT,
    DEFAULT_LIST_LIMIT,
    MAX_CARD_ID_LENGTH,
    MAX_DUE_LIMIT,
    MAX_LIST_LIMIT,
    GradeRequest,
)
from shared.schemas import RequestModel
from shared.topics import MAX_TOPIC_LENGTH

routes = web.RouteTableDef()


class MakeCardsRequest(RequestModel):
    """Body of `POST /api/session/{id}/cards`; nothing to say (yet)."""


def _card_id(request: web.Request) -> str:
    card_id = request.match_info["card_id"]
    if len(card_id) > MAX_CARD_ID_LENGTH:
        raise CardNotFound(card_id[:MAX_CARD_ID_LENGTH] + "...")
    return card_id


@routes.post("/api/session/{session_id}/cards")
async def make_session_cards(request: web.Request) -> web.Response:
    """Make review cards from the session's pages not carded yet; answer the cards made."""
    await read_json(request, MakeCardsRequest)
    s = services(request)
    return ok(await s.card_making.make(request.match_info["session_id"]))


@routes.get("/api/review/due")
async def due_cards(request: web.Request) -> web.Response:
    """The cards due now, soonest first (`limit`, 1 to 100), with today's progress."""
    limit = query_limit(request, DEFAULT_DUE_LIMIT, MAX_DUE_LIMIT)
    return ok(await services(request).review.due(limit))


@routes.post("/api/review/{card_id}/grade")
async def grade_card(request: web.Request) -> web.Response:
    """Grade one card `again`, `hard`, `good` or `easy`: FSRS sets when it is due next."""
    card_id = _card_id(request)
    body = await read_json(request, GradeRequest)
    return ok(await services(request).review.grade(card_id, body.rating, body.review_duration_ms))


@routes.get("/api/cards")
async def list_cards(request: web.Request) -> web.Response:
    """Cards newest first, all or of `?topic=` (any case), at most `limit` (1 to 1000)."""
    topic = " ".join(request.query.get("topic", "").split()) or None
    if topic is not None and len(topic) > MAX_TOPIC_LENGTH:
        raise InvalidRequest(f"`topic` must be at most {MAX_TOPIC_LENGTH} characters.")
    limit = query_limit(request, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
    return ok(await services(request).review.cards(topic, limit))


@routes.delete("/api/cards/{card_id}")
async def delete_card(request: web.Request) -> web.Response:
    """Delete a card and its review logs."""
    return ok(await services(request).review.delete(_card_id(request)))
