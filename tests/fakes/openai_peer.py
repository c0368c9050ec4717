"""A stand-in for the OpenAI Responses API on loopback, driven through the real SDK.

It answers `POST /v1/responses` with bodies shaped like the real API's (the SDK parses them into
`Response` objects), records every request, and can be scripted to fail: status codes, delays,
truncated or malformed output. Every JSON body it answers with is checked strictly against the
SDK's models (`Response`, or `ErrorObject` for an error): a key the SDK does not declare, or one
it requires and is missing, is reported by `assert_valid`. A scripted body that is not JSON (a
proxy's HTML page) is sent as is, unchecked: it is malformed on purpose.

It also makes review cards: a request whose answer format is named `review_cards` is checked
against the SDK's own request type (`ResponseCreateParamsNonStreaming`, no key it does not
declare) and answered with `cards`, or by default one question per page it was sent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from openai.types.responses import Response
from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming
from openai.types.shared import ErrorObject
from pydantic import TypeAdapter

from tests.fakes.strict_sdk import problems, strict_model

DEFAULT_ANALYSIS: dict[str, Any] = {
    "isStudying": True,
    "isActive": True,
    "isDistracted": False,
    "topic": "Biology",
    "subtopic": "Cell division",
    "extractedText": "Mitosis has four phases: prophase, metaphase, anaphase, telophase.",
}
MODEL_SNAPSHOT = "gpt-4.1-2025-04-14"
RESPONSE: TypeAdapter[Any] = TypeAdapter(strict_model(Response))
ERROR: TypeAdapter[Any] = TypeAdapter(strict_model(ErrorObject))
#: The answer format's name in a card-making request (edge/memory/openai_cards.py).
CARDS_FORMAT = "review_cards"
_PAGE = re.compile(r"^Page (\d+) \([^)]*\):\n(.*)$", re.MULTILINE)


@functools.cache
def create_params() -> TypeAdapter[Any]:
    """The SDK's `responses.create` body type (built once: it takes a while)."""
    return TypeAdapter(ResponseCreateParamsNonStreaming)


def is_card_request(body: Any) -> bool:
    """Whether a request asks for review cards."""
    text = body.get("text") if isinstance(body, dict) else None
    answer_format = text.get("format") if isinstance(text, dict) else None
    return isinstance(answer_format, dict) and answer_format.get("name") == CARDS_FORMAT


def request_problems(body: dict[str, Any]) -> list[str]:
    """Why a request body is not what the SDK's `responses.create` declares."""
    declared = set(ResponseCreateParamsNonStreaming.__annotations__)
    found = [f"{key}: not a parameter of responses.create" for key in body if key not in declared]
    return found + problems(create_params(), json.dumps(body))


def default_cards(body: dict[str, Any]) -> list[dict[str, Any]]:
    """One question per page of a card request: its page's first three words as the answer."""
    messages = body.get("input") or []
    if isinstance(messages, str):
        messages = [{"content": messages}]
    text = "\n".join(
        m["content"] for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)
    )
    return [
        {
            "page": int(number),
            "kind": "qa",
            "question": f"What does page {number} begin with?",
            "answer": " ".join(page.split()[:3]),
        }
        for number, page in _PAGE.findall(text)
    ]


def refusal_body(reason: str = "I can't help with that.") -> dict[str, Any]:
    """A completed answer whose only content is a refusal, as the API sends one."""
    body = response_body("")
    body["output"][0]["content"] = [{"type": "refusal", "refusal": reason}]
    return body


@dataclass
class Reply:
    """One scripted answer: an HTTP status, a body (None: a good analysis), a delay.

    With `hold`, the answer waits until the test sets that event (the peer's `holding` is set
    once the request is waiting): a deterministic "while the model runs".
    """

    status: int = 200
    body: dict[str, Any] | str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None


def response_body(
    text: str, *, status: str = "completed", reason: str | None = None
) -> dict[str, Any]:
    """A Responses API body whose only output is one assistant message holding `text`."""
    now = int(time.time())
    return {
        "id": f"resp_{now}",
        "object": "response",
        "created_at": now,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL_SNAPSHOT,
        "output": [
            {
                "type": "message",
                "id": f"msg_{now}",
                "status": status,
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "temperature": 1.0,
        # The request's format is echoed here, as the real API does (see FakeOpenAI).
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": {}, "strict": True}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 900,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 60,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 960,
        },
        "user": None,
        "metadata": {},
    }


def error_body(status: int) -> dict[str, Any]:
    """An API error body as OpenAI sends it."""
    kinds = {429: "rate_limit_exceeded", 401: "invalid_api_key", 400: "invalid_request_error"}
    return {
        "error": {
            "message": f"fake failure {status}",
            "type": kinds.get(status, "server_error"),
            "param": None,
            "code": kinds.get(status),
        }
    }


class FakeOpenAI:
    """The peer; `base_url` is what the daemon's settings point at."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: deque[Reply] = deque()
        self.analysis: dict[str, Any] = dict(DEFAULT_ANALYSIS)
        #: The cards a card request is answered with; None: `default_cards` of the request.
        self.cards: list[dict[str, Any]] | None = None
        self.delay = 0.0
        self.holding = asyncio.Event()
        self.invalid: list[str] = []  # bodies of ours the SDK's models would not declare
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then normally again."""
        self.script.extend(replies)

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/responses", self._responses)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def assert_valid(self) -> None:
        """Fail if any JSON body the peer answered with is not what the SDK's models declare."""
        if self.invalid:
            raise AssertionError(
                "OpenAI peer sent bodies off the SDK's models:\n" + "\n".join(self.invalid)
            )

    def _check(self, adapter: TypeAdapter[Any], body: Any, what: str) -> None:
        for problem in problems(adapter, json.dumps(body)):
            self.invalid.append(f"request {len(self.requests)}, {what}: {problem}")

    async def _responses(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        cards_asked = is_card_request(body)
        if cards_asked:
            for problem in request_problems(body):
                self.invalid.append(f"request {len(self.requests)}, card request: {problem}")
        reply = self.script.popleft() if self.script else Reply(delay=self.delay)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.hold is not None:
            self.holding.set()
            await reply.hold.wait()
        if reply.status != 200:
            payload: Any = reply.body if reply.body is not None else error_body(reply.status)
            # The SDK honours retry-after-ms, so retries in tests take milliseconds.
            headers = {"retry-after-ms": "1", **reply.headers}
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                self._check(ERROR, payload["error"], f"{reply.status} error")
            return web.json_response(payload, status=reply.status, headers=headers)
        if isinstance(reply.body, str):
            return web.Response(text=reply.body, content_type="application/json")
        if reply.body is not None:
            payload = reply.body
        elif cards_asked:
            cards = self.cards if self.cards is not None else default_cards(body)
            payload = response_body(json.dumps({"cards": cards}))
        else:
            payload = response_body(json.dumps(self.analysis))
        text = body.get("text") if isinstance(body, dict) else None
        if isinstance(text, dict):
            payload = payload | {"text": text}  # the real API echoes the request's format
        self._check(RESPONSE, payload, "response")
        return web.json_response(payload, headers=reply.headers)
