"""Limits checked before routing: body size (also while streaming) and NUL in URLs."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: A full sync batch of long texts stays well below this.
MAX_BODY_BYTES = 16 * 1024 * 1024


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 in the envelope once a body passes `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting `receive`."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await self._refuse(
                send, 400, "invalid_request", "NUL characters are not allowed in URLs."
            )
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, 413, "payload_too_large", self._too_large)
            return
        seen = 0
        started = False

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, tracking)
        except _TooLarge:
            if not started:
                await self._refuse(send, 413, "payload_too_large", self._too_large)

    @property
    def _too_large(self) -> str:
        return f"The request body is larger than {self.limit} bytes."

    async def _refuse(self, send: Send, status: int, code: str, message: str) -> None:
        body: dict[str, Any] = {"success": False, "error": {"code": code, "message": message}}
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})
