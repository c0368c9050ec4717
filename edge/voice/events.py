"""The Realtime API's server events: parsed into the SDK's typed models, dispatched by type."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar, get_args

import pydantic
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pydantic import Field, TypeAdapter, ValidationError

ServerEvent = RealtimeServerEvent
Model = TypeVar("Model", bound=pydantic.BaseModel)
Handler = Callable[[ServerEvent], Awaitable[None]]


# The SDK names its discriminator in its own metadata, which pydantic ignores: restated here, one
# look at `type` picks the model, and an unknown type is told apart from a malformed event.
_SERVER_EVENT: TypeAdapter[ServerEvent] = TypeAdapter(
    Annotated[RealtimeServerEvent, Field(discriminator="type")]
)


@dataclass(frozen=True)
class UnreadableEvent:
    """A server message of a known type that does not match the SDK's model of it."""

    type: str
    problem: str


def parse_server_event(raw: str | bytes) -> ServerEvent | UnreadableEvent | None:
    """The typed event; `UnreadableEvent` when malformed; None for a type the SDK does not know.

    Unknown types are skipped quietly: the provider adds events before the SDK models them.
    """
    try:
        return _SERVER_EVENT.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if errors and errors[0]["type"] == "union_tag_invalid":
            return None
        return UnreadableEvent(type=_type_of(raw), problem=str(errors[:3]))


def _type_of(raw: str | bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return "<not JSON>"
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else "<no type>"


def event_type(model: type[pydantic.BaseModel]) -> str:
    """The `type` tag of a server event model (its one `Literal` value)."""
    annotation = model.model_fields["type"].annotation
    (tag,) = get_args(annotation)
    if not isinstance(tag, str):
        raise TypeError(f"{model.__name__}.type is not a string literal")
    return tag


class EventTable:
    """One handler per server event type; a type without one is ignored."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def on(self, model: type[Model], handle: Callable[[Model], Awaitable[None]]) -> None:
        """Handle events of `model`'s type with `handle`, which receives that model."""

        async def narrowed(event: ServerEvent) -> None:
            if isinstance(event, model):  # always, once looked up by its tag
                await handle(event)

        self._handlers[event_type(model)] = narrowed

    async def dispatch(self, event: ServerEvent) -> None:
        """Run the event's handler, if it has one."""
        handler = self._handlers.get(event.type)
        if handler is not None:
            await handler(event)
