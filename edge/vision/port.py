"""The vision port: what the frame pipeline needs from any analyser, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from edge.errors import EdgeError


@dataclass(frozen=True)
class ModelAnswer:
    """The raw JSON text a model answered, and which model it was."""

    text: str
    source: str
    #: How sure the analyser is, 0-1, when it can say (the on-device one does).
    confidence: float | None = None


class VisionAnalyser(Protocol):
    """Looks at one prepared JPEG frame and answers with the analysis JSON."""

    async def analyse(self, jpeg: bytes) -> ModelAnswer:
        """Analyse one frame; raise a `VisionError` on any failure."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class SessionVision(Protocol):
    """An analyser whose answer depends on the session's earlier frames (the hybrid gate).

    A separate port rather than a parameter of every `analyse`: analysers that look at one
    frame alone need not know sessions exist.
    """

    async def analyse(self, jpeg: bytes, *, session: str | None = None) -> ModelAnswer:
        """Analyse one frame of `session` (None: frames of no session, one history)."""
        ...

    def end_session(self, session: str) -> None:
        """Forget what was kept for a session that ended."""
        ...


class VisionError(EdgeError):
    """Frame analysis failed; the frame is kept and the failure recorded."""

    http_status = 502
    code = "vision_failed"


class VisionNotConfigured(VisionError):
    """No analyser is configured (no API key)."""

    http_status = 503
    code = "vision_not_configured"


class VisionRateLimited(VisionError):
    """The provider kept answering 429 after the retries."""

    http_status = 503
    code = "vision_rate_limited"


class VisionUnavailable(VisionError):
    """The provider failed or could not be reached."""

    http_status = 502
    code = "vision_unavailable"


class VisionRejected(VisionError):
    """The provider refused the request itself (bad key, bad request)."""

    http_status = 502
    code = "vision_rejected"


class VisionTimeout(VisionError):
    """The provider did not answer in time."""

    http_status = 504
    code = "vision_timeout"


class ModelBadOutput(VisionError):
    """The model answered something that is not the analysis JSON."""

    http_status = 502
    code = "model_bad_output"
