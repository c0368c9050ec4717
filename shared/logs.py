"""Logging for both daemons: plain lines for a terminal, or one JSON object a line for CloudWatch.

Every line written while a request is served carries that request's id (and the hashed id of
the caller, once known) through context variables, so a request's lines can be found together.
The caller is never named in the clear and no line carries a token: the request line names the
route's template, never the URL with its query.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The id of the request being served, and the hashed id of its caller.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
caller: ContextVar[str | None] = ContextVar("caller", default=None)

#: A request id a client may choose (`X-Request-Id`); anything else is replaced by our own.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
#: `LogRecord` attributes of the logging module itself: everything else is an extra field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def new_request_id(offered: str | None = None) -> str:
    """The client's `X-Request-Id` when it is a plain token, else a fresh one."""
    if offered is not None and _CLIENT_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def hash_id(value: str) -> str:
    """A stable pseudonym of an id: enough to group lines, not to look the person up."""
    return hashlib.sha256(f"studylens-log:{value}".encode()).hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (non-JSON values as their text)."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if (current := request_id.get()) is not None:
            line["requestId"] = current
        if (who := caller.get()) is not None:
            line["user"] = who
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(
    level: str,
    fmt: LogFormat,
    *,
    filters: Iterable[Callable[[logging.LogRecord], bool]] = (),
    quiet: Iterable[str] = (),
) -> None:
    """Log to stderr at `level` in `fmt`; `filters` see every record; `quiet` loggers stay <= INFO.

    Replaces handlers a library or an earlier call installed, so calling it twice is harmless.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    for check in filters:
        handler.addFilter(check)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
