"""The toolbox: tool definitions for the session, and a JSON output for every call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from edge.errors import EdgeError
from edge.metrics import Metrics
from edge.voice.tools import MAX_ARGUMENTS, Tool, Toolbox
from tests.edge.voice.voice_support import metric


class Count(BaseModel):
    """Arguments of the test tool."""

    n: int = Field(ge=0, le=10, description="How many.")


class NoSuchThing(EdgeError):
    """A domain refusal, as the review service raises for an unknown card."""

    http_status = 404
    code = "thing_not_found"


async def double(args: Count) -> dict[str, int]:
    """Twice n."""
    return {"n": args.n * 2}


async def refuse(args: Count) -> None:
    """Always the domain's refusal."""
    raise NoSuchThing("No thing 7.")


async def crash(args: Count) -> None:
    """A bug."""
    raise RuntimeError("secret internals")


def box(*tools: Tool, metrics: Metrics | None = None, seconds: float = 5.0) -> Toolbox:
    """A toolbox of `tools` (or the doubling one)."""
    return Toolbox(tools or [Tool("double", "Twice n.", Count, double)], metrics, seconds=seconds)


def error_of(output: str) -> dict[str, Any]:
    """The error object of an error output."""
    error: dict[str, Any] = json.loads(output)["error"]
    return error


def test_definitions_are_function_tools_with_the_arguments_schema() -> None:
    """Each tool is declared with its JSON schema, as `session.update` wants it."""
    (definition,) = box().definitions()

    assert definition["type"] == "function"
    assert definition["name"] == "double"
    parameters: Any = definition["parameters"]
    assert parameters["properties"]["n"]["maximum"] == 10
    assert parameters["required"] == ["n"]


async def test_a_call_answers_the_tools_result_as_json() -> None:
    """The output is the tool's value, as JSON."""
    assert json.loads(await box().call("double", '{"n": 4}')) == {"n": 8}


@pytest.mark.parametrize("arguments", ['{"n": 11}', '{"n": "x"}', "{not json", '{"m": 1}'])
async def test_bad_arguments_are_an_error_output(arguments: str) -> None:
    """Out-of-range, mistyped, malformed or missing arguments never reach the tool."""
    assert error_of(await box().call("double", arguments))["code"] == "bad_arguments"


async def test_oversized_arguments_are_refused() -> None:
    """Arguments past the limit are refused before parsing."""
    output = await box().call("double", '{"n": 1' + " " * MAX_ARGUMENTS + "}")

    assert error_of(output)["code"] == "bad_arguments"


async def test_an_unknown_tool_is_an_error_output() -> None:
    """A name the session never declared is answered, not raised."""
    assert error_of(await box().call("rm_rf", "{}"))["code"] == "unknown_tool"


async def test_a_domain_refusal_keeps_its_code_and_message() -> None:
    """The model hears what was wrong, in the edge's own words."""
    error = error_of(await box(Tool("refuse", "No.", Count, refuse)).call("refuse", '{"n": 1}'))

    assert error == {"code": "thing_not_found", "message": "No thing 7."}


async def test_a_crashing_tool_is_an_error_output_without_its_internals() -> None:
    """A bug becomes `tool_failed`; the exception's text stays in the log."""
    output = await box(Tool("crash", "Boom.", Count, crash)).call("crash", '{"n": 1}')

    assert error_of(output)["code"] == "tool_failed"
    assert "secret" not in output


async def test_a_slow_tool_is_answered_with_a_timeout() -> None:
    """The student is waiting: a tool past its time is an error output."""
    never = asyncio.Event()

    async def hang(args: Count) -> None:
        await never.wait()

    output = await box(Tool("hang", "Waits.", Count, hang), seconds=0.05).call("hang", '{"n": 1}')

    assert error_of(output)["code"] == "tool_timeout"


async def test_calls_are_counted_by_tool_and_outcome() -> None:
    """ok, refused and failed calls each count; unknown names count as `unknown`."""
    metrics = Metrics()
    tools = box(
        Tool("double", "Twice n.", Count, double),
        Tool("crash", "Boom.", Count, crash),
        metrics=metrics,
    )

    await tools.call("double", '{"n": 1}')
    await tools.call("double", '{"n": 99}')
    await tools.call("crash", '{"n": 1}')
    await tools.call("nope", "{}")

    text = metrics.exposition()
    assert metric(text, "studylens_voice_tool_calls_total", tool="double", outcome="ok") == 1
    assert metric(text, "studylens_voice_tool_calls_total", tool="double", outcome="refused") == 1
    assert metric(text, "studylens_voice_tool_calls_total", tool="crash", outcome="failed") == 1
    assert metric(text, "studylens_voice_tool_calls_total", tool="unknown", outcome="refused") == 1
