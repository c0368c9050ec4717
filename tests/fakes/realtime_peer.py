"""A stand-in for the OpenAI Realtime API (GA event shapes) on loopback, for the real SDK.

`AsyncOpenAI(base_url=peer.base_url).realtime.connect(model=...)` opens
`ws://127.0.0.1:PORT/v1/realtime?model=...` with `Authorization: Bearer <key>`; this peer serves
that path. It validates every client event against the SDK's own client event models, and every
event it sends against the SDK's server event models (strictly both ways: unknown keys are
errors, reported by `assert_valid`), keeps the decoded input audio, detects speech by energy,
streams assistant audio (a 440 Hz tone, or a constant sample value a test picks) and answers
cancel and truncate the way the real API does: like the real service, a cancelled response keeps
streaming a few audio deltas (`cancel_tail_deltas` over `cancel_tail_seconds`) before its
`response.done`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web
from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pydantic import TypeAdapter

from tests.fakes.strict_sdk import problems, union_adapter

RATE = 24_000  # the Realtime API's PCM16 sample rate
VAD_WINDOW_MS = 20
TONE_HZ = 440.0
REPLY_TEXT = "Mitosis has four phases: prophase, metaphase, anaphase and telophase."

# --- strict event validation (tests/fakes/strict_sdk.py) -------------------------------------

CLIENT_EVENT: TypeAdapter[Any] = union_adapter(RealtimeClientEvent)
#: The peer's own events, held to the same standard: what the SDK declares, nothing more.
SERVER_EVENT: TypeAdapter[Any] = union_adapter(RealtimeServerEvent)


def validation_problems(raw: str, adapter: TypeAdapter[Any] = CLIENT_EVENT) -> list[str]:
    """Why `raw` is not a valid Realtime event (client events unless told; empty when valid)."""
    return problems(adapter, raw, root="<event>")


# --- server event helpers ---------------------------------------------------------------------


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": _id("event"), **fields}


def tone(start: int, count: int, *, hz: float = TONE_HZ, amplitude: float = 0.3) -> bytes:
    """PCM16LE 24 kHz samples `start..start+count` of a continuous sine tone."""
    t = (np.arange(start, start + count, dtype=np.float64)) / RATE
    samples = np.round(amplitude * 32767 * np.sin(2 * np.pi * hz * t))
    return samples.astype("<i2").tobytes()


def default_session(model: str) -> dict[str, Any]:
    """A session object as in `session.created`, with exactly the fields the SDK declares.

    (The live API also sends `object`, `id` and `expires_at`; the SDK's session model has no such
    fields, so the peer leaves them out and a client cannot come to depend on them.)
    """
    pcm = {"type": "audio/pcm", "rate": RATE}
    return {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, witty and friendly AI.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": dict(pcm),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(pcm), "voice": "marin", "speed": 1.0},
        },
    }


_MERGED_KEYS = {"audio", "input", "output"}  # nested objects merged key by key; others replaced


def _merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in update.items():
        old = merged.get(key)
        if key in _MERGED_KEYS and isinstance(value, dict) and isinstance(old, dict):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def _dig(obj: dict[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# --- the peer -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Response:
    id: str
    item_id: str
    output_index: int = 0
    transcript: str = ""
    samples: int = 0
    sample: int | None = None  # a constant PCM16 value instead of the tone
    task: asyncio.Task[None] | None = None
    cancelled: str | None = None  # the status_details reason, once cancelled


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    session: dict[str, Any]
    number: int = 0  # in the order the peer accepted its connections, from 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: bytearray = field(default_factory=bytearray)  # input not yet a whole VAD window
    position: int = 0  # input samples seen by the VAD
    uncommitted: int = 0  # input samples since the last commit or clear
    in_speech: bool = False
    silence_ms: int = 0
    speech_item: str = ""
    speech_end_ms: int = 0
    last_item: str | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    item_audio_ms: dict[str, float] = field(default_factory=dict)  # assistant audio per item
    response: _Response | None = None
    cancelling: _Response | None = None  # cancelled, still streaming its tail
    truncated: set[str] = field(default_factory=set)  # items cut by a truncate
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class FakeRealtime:
    """The fake Realtime peer; point the SDK's `base_url` at `base_url`."""

    def __init__(
        self,
        *,
        reply_audio_ms: int = 600,
        delta_ms: int = 40,
        delta_interval: float = 0.0,
        speech_threshold: float = 0.05,
        auto_respond: bool = True,
        silence_ms: int = 300,
        interrupt_on_speech: bool = False,
        cancel_tail_deltas: int = 3,
        cancel_tail_seconds: float = 0.1,
    ) -> None:
        self.base_url = ""
        self.websocket_base_url = ""  # for the SDK's `websocket_base_url=` (used as is + /realtime)
        self.connections = 0
        self.events: list[dict[str, Any]] = []
        self.invalid: list[str] = []
        self.invalid_sent: list[str] = []  # the peer's own events the SDK would not declare
        self.failures: list[str] = []  # bugs of the peer itself; assert_valid reports them too
        self.audio = bytearray()
        self.session_updates: list[dict[str, Any]] = []
        self.truncates: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self.paths: list[str] = []  # path and query of each accepted connection
        self.errors: list[dict[str, Any]] = []  # `error` objects sent to the client
        self.responses: list[dict[str, Any]] = []  # final response objects (response.done)
        self.function_outputs: list[dict[str, Any]] = []  # function_call_output items accepted
        self.reply_audio_ms = reply_audio_ms
        self.delta_ms = delta_ms
        self.delta_interval = delta_interval
        self.speech_threshold = speech_threshold
        self.auto_respond = auto_respond
        self.silence_ms = silence_ms
        # The real server cancels a running response itself when speech starts (server VAD
        # `interrupt_response`); off by default so tests drive `response.cancel` explicitly.
        self.interrupt_on_speech = interrupt_on_speech
        # The real service does not stop at once: audio deltas of a cancelled response still
        # come for a while after `response.cancel`, then its `response.done` (cancelled).
        self.cancel_tail_deltas = cancel_tail_deltas
        self.cancel_tail_seconds = cancel_tail_seconds
        self.tail_deltas = 0  # deltas of cancelled responses sent after the cancel
        self.speech_starts = 0  # `input_audio_buffer.speech_started` events sent
        # Responses started from now on are this constant PCM16 value instead of the tone.
        self.reply_sample: int | None = None
        # Probes for latency benchmarks: the reply's PCM16 for (first sample, count) instead of
        # the tone; called with each appended chunk as it arrives (and its connection's
        # number), and with (first sample, count) of each audio delta just after it is sent.
        self.reply_source: Callable[[int, int], bytes] | None = None
        self.on_append: Callable[[int, bytes], None] | None = None  # (connection number, PCM)
        self.on_delta: Callable[[int, int], None] | None = None
        self._conns: list[_Conn] = []
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()

    # -- lifecycle

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        app.router.add_get("/v1/realtime", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.websocket_base_url = f"ws://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        """Close every socket (1000) and stop listening."""
        for conn in list(self._conns):
            await self._close(conn, 1000)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- test controls

    @property
    def current(self) -> _Conn:
        """The latest accepted connection."""
        if not self._conns:
            raise RuntimeError("no Realtime connection yet")
        return self._conns[-1]

    @property
    def response_active(self) -> bool:
        """Whether a response is streaming on the current connection."""
        return bool(self._conns) and self.current.response is not None

    async def respond(self) -> None:
        """Start a response on the latest connection; returns once `response.created` is sent."""
        conn = self.current
        if conn.response is not None:
            raise RuntimeError("a response is already active")
        await self._cancelled_done(conn)
        await self._start_response(conn)

    async def call_function(self, name: str, arguments: str, *, status: str = "completed") -> str:
        """Make the model call `name` with `arguments` (a response of one function call item).

        As the real API does it: the item is announced, its arguments streamed, and the
        response ends (`response.done` holding the call) before the client may answer it. With
        `status="cancelled"` the response is cut off and its item left incomplete. Returns the
        call id.
        """
        conn = self.current
        if conn.response is not None:
            raise RuntimeError("a response is already active")
        resp = _Response(id=_id("resp"), item_id=_id("item"))
        call_id = _id("call")
        item = {
            "id": resp.item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        where = {"response_id": resp.id, "item_id": resp.item_id, "output_index": 0}
        previous = conn.last_item
        conn.items[resp.item_id] = item
        conn.last_item = resp.item_id
        await self._send(
            conn,
            _event(
                "response.created", response=self._response_object(conn, resp, "in_progress", None)
            ),
        )
        await self._send(
            conn,
            _event("response.output_item.added", response_id=resp.id, output_index=0, item=item),
        )
        await self._send(
            conn, _event("conversation.item.added", previous_item_id=previous, item=item)
        )
        half = len(arguments) // 2
        for delta in (arguments[:half], arguments[half:]):
            await self._send(
                conn,
                _event(
                    "response.function_call_arguments.delta", **where, call_id=call_id, delta=delta
                ),
            )
        await self._send(
            conn,
            _event(
                "response.function_call_arguments.done",
                **where,
                call_id=call_id,
                name=name,
                arguments=arguments,
            ),
        )
        final_item = {
            **item,
            "arguments": arguments,
            "status": "completed" if status == "completed" else "incomplete",
        }
        conn.items[resp.item_id] = final_item
        final = self._response_object(conn, resp, status, final_item)
        if status == "cancelled":
            final["status_details"] = {"type": "cancelled", "reason": "turn_detected"}
        else:
            for kind in ("response.output_item.done", "conversation.item.done"):
                extra = {"response_id": resp.id, "output_index": 0} if "response" in kind else {}
                await self._send(conn, _event(kind, **extra, item=final_item))
        self.responses.append(final)
        await self._send(conn, _event("response.done", response=final))
        return call_id

    async def close_current(self, code: int = 1001) -> None:
        """Close the current socket from the server side with `code`."""
        await self._close(self.current, code)

    async def send_event(self, event: dict[str, Any], *, check: bool = True) -> None:
        """Push a server event (sent as is) to the current connection.

        It is validated like the peer's own, unless `check` is off (a deliberately odd event).
        """
        await self._send(self.current, event, check=check)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until `predicate()` holds, re-checked after every client event and connection."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    def assert_valid(self) -> None:
        """Fail if any client event or any event of the peer's was invalid, or the peer failed."""
        problems = (
            self.invalid
            + [f"peer sent: {p}" for p in self.invalid_sent]
            + [f"peer failure: {f}" for f in self.failures]
        )
        if problems:
            raise AssertionError("Realtime peer saw problems:\n" + "\n".join(problems))

    # -- connection

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return web.json_response(_error_body("Missing bearer authentication"), status=401)
        model = request.query.get("model")
        if not model:
            return web.json_response(_error_body("Missing required parameter: 'model'"), status=400)
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=16 * 1024 * 1024, compress=False)
        await ws.prepare(request)
        conn = _Conn(ws=ws, session=default_session(model), number=len(self._conns))
        self._conns.append(conn)
        self.connections += 1
        self.auth_headers.append(auth)
        self.paths.append(request.path_qs)
        await self._notify()
        try:
            await self._send(conn, _event("session.created", session=conn.session))
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._receive(conn, message.data)
                elif message.type is WSMsgType.BINARY:
                    self._invalid(conn, None, "a binary frame (the API takes JSON text only)")
                    await self._error(
                        conn,
                        "invalid_event",
                        "Binary frames are not supported.",
                        param=None,
                        event_id=None,
                    )
                await self._notify()
        finally:
            await self._cancel_response(conn)
            for task in list(conn.tasks):
                task.cancel()
            if conn.tasks:
                await asyncio.wait(conn.tasks)
            await self._notify()
        return ws

    async def _close(self, conn: _Conn, code: int) -> None:
        await self._cancel_response(conn)
        if not conn.ws.closed:
            await conn.ws.close(code=code, message=b"going away" if code == 1001 else b"")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _send(self, conn: _Conn, event: dict[str, Any], *, check: bool = True) -> bool:
        if conn.ws.closed:
            return False
        if event.get("type") == "error":
            self.errors.append(event.get("error", {}))
        raw = json.dumps(event)
        if check:
            for problem in validation_problems(raw, SERVER_EVENT):
                self.invalid_sent.append(f"{event.get('type')}: {problem}")
        try:
            async with conn.lock:
                await conn.ws.send_str(raw)
        except ConnectionError:  # the client went away mid-send
            return False
        await self._notify()
        return True

    async def _error(
        self, conn: _Conn, code: str, message: str, *, param: str | None, event_id: object
    ) -> None:
        error = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id if isinstance(event_id, str) else None,
        }
        await self._send(conn, _event("error", error=error))

    def _invalid(self, conn: _Conn, event: object, problem: str) -> None:
        kind = event.get("type") if isinstance(event, dict) else None
        self.invalid.append(f"connection {self._conns.index(conn) + 1}, {kind}: {problem}")

    # -- client events

    async def _receive(self, conn: _Conn, raw: str) -> None:
        try:
            event = json.loads(raw)
        except ValueError as exc:
            self._invalid(conn, None, f"not JSON: {exc}")
            await self._error(
                conn, "invalid_json", f"Invalid JSON: {exc}", param=None, event_id=None
            )
            return
        self.events.append(event if isinstance(event, dict) else {"<non-object>": event})
        if not isinstance(event, dict):
            self._invalid(conn, None, "the event is not a JSON object")
            await self._error(
                conn, "invalid_event", "The event must be an object.", param=None, event_id=None
            )
            return
        problems = validation_problems(raw)
        if not problems and event["type"] == "input_audio_buffer.append":
            problems = _audio_problems(event["audio"])
        if problems:
            for problem in problems:
                self._invalid(conn, event, problem)
            await self._error(
                conn,
                "invalid_event",
                "; ".join(problems),
                param=None,
                event_id=event.get("event_id"),
            )
            return
        try:
            await self._dispatch(conn, event)
        except Exception as exc:  # a bug of the peer: recorded, the socket stays up
            self.failures.append(f"{event['type']}: {exc!r}")

    async def _dispatch(self, conn: _Conn, event: dict[str, Any]) -> None:
        kind = event["type"]
        event_id = event.get("event_id")
        if kind == "session.update":
            await self._session_update(conn, event)
        elif kind == "input_audio_buffer.append":
            pcm = base64.b64decode(event["audio"])
            if self.on_append is not None:
                self.on_append(conn.number, pcm)
            self.audio.extend(pcm)
            conn.uncommitted += len(pcm) // 2
            await self._vad(conn, pcm)
        elif kind == "input_audio_buffer.commit":
            await self._commit(conn, event_id)
        elif kind == "input_audio_buffer.clear":
            conn.uncommitted = 0
            await self._send(conn, _event("input_audio_buffer.cleared"))
        elif kind == "response.create":
            if conn.response is not None:
                await self._error(
                    conn,
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {conn.response.id}."
                    " Wait until the response is finished before creating a new one.",
                    param=None,
                    event_id=event_id,
                )
            else:
                await self._cancelled_done(conn)
                await self._start_response(conn)
        elif kind == "response.cancel":
            wanted = event.get("response_id")
            active = conn.response
            if active is None or (wanted is not None and wanted != active.id):
                await self._error(
                    conn,
                    "response_cancel_not_active",
                    "Cancellation failed: no active response found",
                    param=None,
                    event_id=event_id,
                )
            else:
                await self._cancel_response(conn, reason="client_cancelled")
        elif kind == "conversation.item.truncate":
            self.truncates.append(event)
            await self._truncate(conn, event)
        elif kind == "conversation.item.create":
            item = {"id": _id("item"), "object": "realtime.item", **event["item"]}
            item.setdefault("status", "completed")
            if item.get("type") == "function_call_output":
                calls = {
                    i.get("call_id")
                    for i in conn.items.values()
                    if i.get("type") == "function_call"
                }
                if item.get("call_id") not in calls:
                    # The real API refuses an output that answers no call of the conversation.
                    await self._error(
                        conn,
                        "invalid_value",
                        f"No tool call found for function call output with call_id "
                        f"{item.get('call_id')}.",
                        param="item.call_id",
                        event_id=event_id,
                    )
                    return
                self.function_outputs.append(item)
            await self._add_item(conn, item, event.get("previous_item_id"))
        elif kind == "conversation.item.delete":
            if conn.items.pop(event["item_id"], None) is None:
                await self._no_item(conn, event)
            else:
                await self._send(
                    conn, _event("conversation.item.deleted", item_id=event["item_id"])
                )
        elif kind == "conversation.item.retrieve":
            found = conn.items.get(event["item_id"])
            if found is None:
                await self._no_item(conn, event)
            else:
                await self._send(conn, _event("conversation.item.retrieved", item=found))
        # output_audio_buffer.clear only acts on WebRTC/SIP; over a WebSocket it is a no-op.

    async def _session_update(self, conn: _Conn, event: dict[str, Any]) -> None:
        update = event["session"]
        self.session_updates.append(update)
        voice = _dig(update, "audio", "output", "voice")
        current_voice = _dig(conn.session, "audio", "output", "voice")
        spoken = any(ms > 0 for ms in conn.item_audio_ms.values())
        if voice is not None and voice != current_voice and spoken:
            await self._error(
                conn,
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                param="session.audio.output.voice",
                event_id=event.get("event_id"),
            )
            return
        conn.session = _merge(conn.session, update)
        await self._send(conn, _event("session.updated", session=conn.session))

    async def _no_item(self, conn: _Conn, event: dict[str, Any]) -> None:
        await self._error(
            conn,
            "item_not_found",
            f"Item with item_id not found: {event['item_id']}",
            param="item_id",
            event_id=event.get("event_id"),
        )

    async def _add_item(self, conn: _Conn, item: dict[str, Any], previous: str | None) -> None:
        previous = previous if previous is not None else conn.last_item
        conn.items[item["id"]] = item
        conn.last_item = item["id"]
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self._send(conn, _event(kind, previous_item_id=previous, item=item))

    async def _truncate(self, conn: _Conn, event: dict[str, Any]) -> None:
        item_id, end_ms = event["item_id"], event["audio_end_ms"]
        if item_id not in conn.item_audio_ms:
            if item_id not in conn.items:
                await self._no_item(conn, event)
            else:
                await self._error(
                    conn,
                    "invalid_value",
                    f"Item {item_id} has no assistant audio to truncate",
                    param="item_id",
                    event_id=event.get("event_id"),
                )
            return
        have = conn.item_audio_ms[item_id]
        problem = None
        if event["content_index"] != 0:
            problem = (
                "content_index",
                f"Item {item_id} has no content at {event['content_index']}",
            )
        elif end_ms < 0:
            problem = ("audio_end_ms", "audio_end_ms must not be negative")
        elif end_ms > have:
            problem = (
                "audio_end_ms",
                f"Audio content of {math.floor(have)}ms is already shorter than {end_ms}ms",
            )
        if problem is not None:
            await self._error(
                conn, "invalid_value", problem[1], param=problem[0], event_id=event.get("event_id")
            )
            return
        conn.item_audio_ms[item_id] = float(end_ms)
        conn.truncated.add(item_id)
        await self._send(
            conn,
            _event(
                "conversation.item.truncated",
                item_id=item_id,
                content_index=0,
                audio_end_ms=end_ms,
            ),
        )

    # -- input audio: energy VAD and commits

    async def _vad(self, conn: _Conn, pcm: bytes) -> None:
        detection = _dig(conn.session, "audio", "input", "turn_detection")
        conn.pending.extend(pcm)
        window = RATE * VAD_WINDOW_MS // 1000 * 2
        while len(conn.pending) >= window:
            chunk = bytes(conn.pending[:window])
            del conn.pending[:window]
            start_ms = conn.position * 1000 // RATE
            conn.position += window // 2
            if not isinstance(detection, dict):
                continue  # turn detection off: the client commits by hand
            samples = np.frombuffer(chunk, dtype="<i2").astype(np.float64) / 32768.0
            loud = math.sqrt(float(np.mean(samples * samples))) > self.speech_threshold
            if loud and not conn.in_speech:
                conn.in_speech, conn.silence_ms = True, 0
                conn.speech_item = _id("item")
                self.speech_starts += 1
                await self._send(
                    conn,
                    _event(
                        "input_audio_buffer.speech_started",
                        audio_start_ms=start_ms,
                        item_id=conn.speech_item,
                    ),
                )
                if self.interrupt_on_speech and conn.response is not None:
                    await self._cancel_response(conn, reason="turn_detected")
            elif loud:
                conn.silence_ms = 0
            elif conn.in_speech:
                if conn.silence_ms == 0:
                    conn.speech_end_ms = start_ms
                conn.silence_ms += VAD_WINDOW_MS
                if conn.silence_ms >= self.silence_ms:
                    conn.in_speech = False
                    await self._speech_stopped(conn, detection)

    async def _speech_stopped(self, conn: _Conn, detection: dict[str, Any]) -> None:
        item_id = conn.speech_item
        await self._send(
            conn,
            _event(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=conn.speech_end_ms,
                item_id=item_id,
            ),
        )
        await self._committed(conn, item_id)
        if (
            self.auto_respond
            and detection.get("create_response") is not False
            and conn.response is None
        ):
            await self._cancelled_done(conn)
            await self._start_response(conn)

    async def _commit(self, conn: _Conn, event_id: object) -> None:
        have_ms = conn.uncommitted * 1000 / RATE
        if have_ms < 100:
            await self._error(
                conn,
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms"
                f" of audio, but buffer only has {have_ms:.2f}ms of audio.",
                param=None,
                event_id=event_id,
            )
            return
        await self._committed(conn, conn.speech_item if conn.in_speech else _id("item"))
        conn.in_speech = False

    async def _committed(self, conn: _Conn, item_id: str) -> None:
        seconds = conn.uncommitted / RATE
        conn.uncommitted = 0
        previous = conn.last_item
        await self._send(
            conn, _event("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._add_item(conn, item, previous)
        if _dig(conn.session, "audio", "input", "transcription") is not None:
            await self._send(
                conn,
                _event(
                    "conversation.item.input_audio_transcription.completed",
                    item_id=item_id,
                    content_index=0,
                    transcript="(speech)",
                    usage={"type": "duration", "seconds": round(seconds, 3)},
                ),
            )

    # -- responses

    def _response_object(
        self, conn: _Conn, resp: _Response, status: str, item: dict[str, Any] | None
    ) -> dict[str, Any]:
        voice = _dig(conn.session, "audio", "output", "voice")
        done = status != "in_progress"
        return {
            "object": "realtime.response",
            "id": resp.id,
            "status": status,
            "status_details": None,
            "output": [item] if item is not None else [],
            "conversation_id": "conv_fake",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": voice}},
            "usage": (
                {
                    "total_tokens": 120,
                    "input_tokens": 100,
                    "output_tokens": 20,
                    "input_token_details": {"text_tokens": 80, "audio_tokens": 20},
                    "output_token_details": {"text_tokens": 5, "audio_tokens": 15},
                }
                if done
                else None
            ),
            "metadata": None,
        }

    def _assistant_item(self, resp: _Response, status: str) -> dict[str, Any]:
        return {
            "id": resp.item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": resp.transcript}],
        }

    async def _start_response(self, conn: _Conn) -> None:
        resp = _Response(id=_id("resp"), item_id=_id("item"), sample=self.reply_sample)
        conn.response = resp
        conn.item_audio_ms[resp.item_id] = 0.0
        item = self._assistant_item(resp, "in_progress")
        item["content"] = []
        await self._send(
            conn,
            _event(
                "response.created", response=self._response_object(conn, resp, "in_progress", None)
            ),
        )
        previous = conn.last_item
        conn.items[resp.item_id] = item
        conn.last_item = resp.item_id
        await self._send(
            conn,
            _event("response.output_item.added", response_id=resp.id, output_index=0, item=item),
        )
        await self._send(
            conn, _event("conversation.item.added", previous_item_id=previous, item=item)
        )
        if conn.response is not resp or conn.ws.closed:
            return  # cancelled, or the socket went away, while announcing it
        resp.task = asyncio.create_task(self._stream(conn, resp))
        conn.tasks.add(resp.task)
        resp.task.add_done_callback(conn.tasks.discard)

    async def _stream(self, conn: _Conn, resp: _Response) -> None:
        try:
            await self._stream_audio(conn, resp)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug of the peer: recorded, never left in the task
            self.failures.append(f"response stream: {exc!r}")

    async def _stream_audio(self, conn: _Conn, resp: _Response) -> None:
        part = {
            "response_id": resp.id,
            "item_id": resp.item_id,
            "output_index": 0,
            "content_index": 0,
        }
        await self._send(
            conn,
            _event("response.content_part.added", **part, part={"type": "audio", "transcript": ""}),
        )
        total = RATE * self.reply_audio_ms // 1000
        step = max(1, RATE * self.delta_ms // 1000)
        words = REPLY_TEXT.split(" ")
        tail = 0
        while resp.samples < total:
            if resp.cancelled is not None:
                if tail == self.cancel_tail_deltas:
                    break
                tail += 1
                await asyncio.sleep(self.cancel_tail_seconds / max(1, self.cancel_tail_deltas))
            count = min(step, total - resp.samples)
            if self.reply_source is not None:
                pcm = self.reply_source(resp.samples, count)
            elif resp.sample is None:
                pcm = tone(resp.samples, count)
            else:
                pcm = np.full(count, resp.sample, "<i2").tobytes()
            audio = base64.b64encode(pcm).decode("ascii")
            if not await self._send(
                conn, _event("response.output_audio.delta", **part, delta=audio)
            ):
                return
            if self.on_delta is not None:
                self.on_delta(resp.samples, count)
            if resp.cancelled is not None:
                self.tail_deltas += 1
            resp.samples += count
            if resp.item_id not in conn.truncated:
                conn.item_audio_ms[resp.item_id] = resp.samples * 1000 / RATE
            if resp.cancelled is not None:
                continue  # a cancelled response's transcript stops with the cancel
            if words:
                delta = words.pop(0) + (" " if words else "")
                resp.transcript += delta
                await self._send(
                    conn, _event("response.output_audio_transcript.delta", **part, delta=delta)
                )
            await asyncio.sleep(self.delta_interval)
        if resp.cancelled is not None:
            await self._finish_cancelled(conn, resp)
            return
        if words:
            delta = " ".join(words)
            resp.transcript += delta
            await self._send(
                conn, _event("response.output_audio_transcript.delta", **part, delta=delta)
            )
        conn.response = None  # from here on a cancel finds nothing active, as on the real API
        item = self._assistant_item(resp, "completed")
        conn.items[resp.item_id] = item
        final = self._response_object(conn, resp, "completed", item)
        content = {"type": "audio", "transcript": resp.transcript}
        self.responses.append(final)
        for event in (
            _event("response.output_audio.done", **part),
            _event("response.output_audio_transcript.done", **part, transcript=resp.transcript),
            _event("response.content_part.done", **part, part=content),
            _event("response.output_item.done", response_id=resp.id, output_index=0, item=item),
            _event("conversation.item.done", item=item),
            _event("response.done", response=final),
        ):
            await self._send(conn, event)

    async def _cancel_response(self, conn: _Conn, *, reason: str | None = None) -> None:
        """Stop the active response; with a `reason`, tell the client (`response.done`).

        With a reason the response streams its tail first (its own task ends it); without one
        (the socket is going away) it stops at once, tail and all.
        """
        resp, conn.response = conn.response, None
        if reason is not None and resp is not None:
            resp.cancelled = reason
            if resp.task is not None and not resp.task.done():
                conn.cancelling = resp
                return
            await self._finish_cancelled(conn, resp)
            return
        for stopping in (resp, conn.cancelling):
            if stopping is not None and stopping.task is not None and not stopping.task.done():
                stopping.task.cancel()
                await asyncio.wait([stopping.task])
        conn.cancelling = None

    async def _cancelled_done(self, conn: _Conn) -> None:
        """Wait until a cancelled response has sent its tail and `response.done`."""
        resp = conn.cancelling
        if resp is not None and resp.task is not None and not resp.task.done():
            await asyncio.wait([resp.task])

    async def _finish_cancelled(self, conn: _Conn, resp: _Response) -> None:
        """The cancelled response's `response.done` (status cancelled, item incomplete)."""
        if conn.cancelling is resp:
            conn.cancelling = None
        reason = resp.cancelled or "client_cancelled"
        item = self._assistant_item(resp, "incomplete")
        conn.items[resp.item_id] = item
        final = self._response_object(conn, resp, "cancelled", item)
        final["status_details"] = {"type": "cancelled", "reason": reason}
        self.responses.append(final)
        await self._send(conn, _event("response.done", response=final))


def _audio_problems(audio: str) -> list[str]:
    try:
        pcm = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError) as exc:
        return [f"audio: not valid base64 ({exc})"]
    if len(pcm) % 2:
        return [f"audio: {len(pcm)} bytes is not whole PCM16 samples"]
    return []


def _error_body(message: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
