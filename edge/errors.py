"""The edge's one exception hierarchy; the HTTP layer turns each into its status and envelope."""

from __future__ import annotations

from shared.errors import ReportedError


class EdgeError(ReportedError):
    """Base of every error the edge reports to a client on purpose."""


class InvalidRequest(EdgeError):
    """The request is malformed: bad JSON, wrong types, values out of range."""

    http_status = 400
    code = "invalid_request"


class InvalidJson(InvalidRequest):
    """The body is not JSON at all."""

    code = "invalid_json"


class InvalidDate(InvalidRequest):
    """A date parameter is not a real `YYYY-MM-DD` date."""

    code = "invalid_date"


class InvalidWeek(InvalidRequest):
    """A week parameter is not an ISO week (`YYYY-Www`) that exists and has begun."""

    code = "invalid_week"


class SessionNotFound(EdgeError):
    """No session has this id."""

    http_status = 404
    code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"No study session with id {session_id!r}.")


class AnalysisNotFound(EdgeError):
    """No analysis of this session has this id."""

    http_status = 404
    code = "analysis_not_found"

    def __init__(self, analysis_id: str) -> None:
        super().__init__(f"No analysis with id {analysis_id!r} in this session.")


class CardNotFound(EdgeError):
    """No review card has this id."""

    http_status = 404
    code = "card_not_found"

    def __init__(self, card_id: str) -> None:
        super().__init__(f"No review card with id {card_id!r}.")


class SessionNotActive(EdgeError):
    """The session has already ended."""

    http_status = 409
    code = "session_not_active"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"Study session {session_id!r} has already ended.")


class StoreError(EdgeError):
    """The local database failed; the request may be retried."""

    http_status = 503
    code = "store_unavailable"


class Unauthorized(EdgeError):
    """No valid device token: pair the phone first."""

    http_status = 401
    code = "unauthorized"


class Forbidden(EdgeError):
    """Known, but not allowed to do this."""

    http_status = 403
    code = "forbidden"


class CrossSiteRefused(Forbidden):
    """The request comes from another site's page (its `Origin` is not the daemon's own)."""

    code = "cross_site_refused"


class HostNotAllowed(EdgeError):
    """The Host header names someone else (a DNS-rebinding page, say)."""

    http_status = 403
    code = "host_not_allowed"


class PairingLocked(EdgeError):
    """Too many wrong codes: wait."""

    http_status = 429
    code = "pairing_locked"


class RequestTimeout(EdgeError):
    """The client took too long to send its request body."""

    http_status = 408
    code = "request_timeout"


class TooManyConnections(EdgeError):
    """The client address already has as many requests open as it may."""

    http_status = 429
    code = "too_many_connections"
