"""The phone's side of `WS /ws`: JSON control messages in, JSON events out.

Binary frames carry audio (Float32LE 16 kHz mono in, PCM16LE 24 kHz mono out); text frames carry
these messages, each an object with a `type`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

from edge.errors import EdgeError
from shared.schemas import RequestModel, Timestamp, WireModel


class StartMessage(RequestModel):
    """Open the tutor for a study session (default: the running one)."""

    type: Literal["start"]
    session_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class StopMessage(RequestModel):
    """End the tutor; the socket closes after `closing`."""

    type: Literal["stop"]


class PlaybackMessage(RequestModel):
    """How much of an assistant item the phone has actually played (for barge-in truncation)."""

    type: Literal["playback"]
    item_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    played_ms: Annotated[int, Field(ge=0, le=24 * 3600 * 1000)]


PhoneMessage = Annotated[StartMessage | StopMessage | PlaybackMessage, Field(discriminator="type")]
_PHONE_MESSAGE: TypeAdapter[StartMessage | StopMessage | PlaybackMessage] = TypeAdapter(
    PhoneMessage
)


class BadPhoneMessage(EdgeError):
    """A text frame that is not one of the phone's messages."""

    http_status = 400
    code = "bad_message"


def parse_phone_message(text: str) -> StartMessage | StopMessage | PlaybackMessage:
    """Parse one text frame, or raise BadPhoneMessage with a sentence for the `error` event."""
    try:
        return _PHONE_MESSAGE.validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise BadPhoneMessage(f"Not a control message ({where}: {first['msg']}).") from exc


# --- events to the phone ----------------------------------------------------------------------


class Ready(WireModel):
    """The tutor is listening."""

    type: Literal["ready"] = "ready"
    session_id: str
    input_rate: int
    output_rate: int


class Interrupt(WireModel):
    """The student spoke over the tutor: flush the player now."""

    type: Literal["interrupt"] = "interrupt"
    item_id: str | None


class Transcript(WireModel):
    """What was said, partial or final."""

    type: Literal["transcript"] = "transcript"
    role: Literal["user", "assistant"]
    text: str
    final: bool
    item_id: str | None = None


class ErrorEvent(WireModel):
    """Something the phone sent or the tutor met went wrong; the socket stays open."""

    type: Literal["error"] = "error"
    code: str
    message: str


class Closing(WireModel):
    """The daemon is about to close the socket, and why."""

    type: Literal["closing"] = "closing"
    reason: str


class PausedEvent(WireModel):
    """The student paused capture: the tutor stops now (a `closing` follows)."""

    type: Literal["paused"] = "paused"
    #: When the pause ends by itself; None: when the student resumes.
    ends_at: Timestamp | None
