"""The base of every error the product raises across a module boundary, on either side.

Each side has one tree under it, mapped to the envelope where requests enter: the edge's
`edge.errors.EdgeError` (its sync branch `edge.sync.errors.SyncError`), the cloud's
`cloud.errors.CloudError`. An error no client causes keeps the default 500 `internal_error`.
"""

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
