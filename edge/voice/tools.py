"""The tutor's tools: functions the Realtime model may call, run by the edge.

A `Tool` is a name, a description for the model, a pydantic model of its arguments and an async
function. A `Toolbox` turns them into the session's `tools` and answers each call with a JSON
output: a tool's failure becomes an error output the model can speak about, never an exception
in the voice session.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from openai.types.realtime.realtime_function_tool_param import RealtimeFunctionToolParam
from pydantic import BaseModel, ValidationError

from edge.errors import EdgeError
from edge.metrics import Metrics

log = logging.getLogger(__name__)

#: A call that takes longer is answered with an error: the student is waiting in silence.
CALL_SECONDS = 5.0
#: The longest arguments string a call may carry (the model's, but still input).
MAX_ARGUMENTS = 4096


@dataclass(frozen=True)
class Tool:
    """One function for the model: `run(arguments)` answers a JSON-ready value."""

    name: str
    description: str
    arguments: type[BaseModel]
    run: Callable[[Any], Awaitable[object]]

    def definition(self) -> RealtimeFunctionToolParam:
        """The tool as the session's `tools` list declares it."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": schema,
        }


def _error(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


class Toolbox:
    """The tools of a voice session, by name."""

    def __init__(
        self,
        tools: Iterable[Tool],
        metrics: Metrics | None = None,
        *,
        seconds: float = CALL_SECONDS,
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._metrics = metrics
        self._seconds = seconds

    def definitions(self) -> list[RealtimeFunctionToolParam]:
        """Every tool, for `session.update`."""
        return [tool.definition() for tool in self._tools.values()]

    async def call(self, name: str, arguments: str) -> str:
        """Run the call; the JSON output for `function_call_output`, an error one on failure."""
        output, outcome = await self._call(name, arguments)
        if self._metrics is not None:
            self._metrics.voice_tool_calls.labels(
                name if name in self._tools else "unknown", outcome
            ).inc()
        return output

    async def _call(self, name: str, arguments: str) -> tuple[str, str]:
        tool = self._tools.get(name)
        if tool is None:
            return _error("unknown_tool", f"There is no tool named {name[:64]!r}."), "refused"
        if len(arguments) > MAX_ARGUMENTS:
            return _error("bad_arguments", "The arguments are too long."), "refused"
        try:
            parsed = tool.arguments.model_validate_json(arguments or "{}")
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            return _error("bad_arguments", where), "refused"
        try:
            async with asyncio.timeout(self._seconds):
                result = await tool.run(parsed)
        except EdgeError as exc:  # the domain's own refusal (an unknown card, say)
            return _error(exc.code, str(exc)), "refused"
        except TimeoutError:
            log.warning("voice tool %s took longer than %.0f s", name, self._seconds)
            return _error("tool_timeout", "The tool took too long."), "failed"
        except Exception:
            log.exception("voice tool %s failed", name)
            return _error("tool_failed", "The tool failed; say so and go on."), "failed"
        return json.dumps(result, default=str), "ok"
