"""The phone simulator posts frames to a daemon and reports each analysis."""

from __future__ import annotations

import asyncio

import pytest

from scripts import simulate_phone
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient


async def test_simulator_prints_each_analysis(
    vision_client: AppClient, openai_peer: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two generated pages go up; both analyses come back and the run succeeds."""
    token = vision_client.session.headers["Authorization"].removeprefix("Bearer ")
    url = str(vision_client.make_url("")).rstrip("/")
    # `--token=`: a token may start with "-", which argparse would take for an option.
    argv = ["--url", url, f"--token={token}", "--count", "2", "--interval", "0"]
    status = await asyncio.to_thread(simulate_phone.main, argv)
    out = capsys.readouterr().out
    assert status == 0
    assert out.count("Biology / Cell division") == 2
    assert len(openai_peer.requests) >= 1


def test_generated_pages_are_jpegs() -> None:
    """The pages drawn for each topic are JPEG frames."""
    for topic in simulate_phone.PAGES:
        assert simulate_phone.page(topic)[:3] == b"\xff\xd8\xff"
