"""The base of the errors edge and cloud report to clients on purpose."""

from __future__ import annotations

from shared.schemas import FieldProblem


class ReportedError(Exception):
    """An error with an HTTP status, a snake_case code and a sentence for the envelope."""

    http_status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
