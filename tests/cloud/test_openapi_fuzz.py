"""schemathesis over the API's own OpenAPI schema: whatever it generates, no 500s.

Runs against a real `studylens-cloud serve` process on PostgreSQL, once with an edge's sync
token and once with a student's token (in that order: the student's run may unlink the edge).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.cloud.support import cloud_env, data_of, link_device, running_cloud
from tests.fakes.google import FakeGoogle

#: Bounded so the whole suite stays within its time budget on two cores.
MAX_EXAMPLES = 15
MAX_SECONDS = 30


async def schemathesis(base_url: str, token: str, report: Path) -> tuple[int, str]:
    """Run schemathesis on the server with a token; return its exit code and output."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--exclude-path",
        "/api/auth/logout",  # would sign the fuzzer's own token out
        "--exclude-name",
        "DELETE /api/me",  # would delete the fuzzer's own account mid-run
        "--seed",
        "20261125",
        # No example database: it lives in the working tree (.schemathesis/), so runs would
        # differ by checkout and leave the tree dirty; the seed makes a run repeatable.
        "--generation-database",
        "none",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return int(process.returncode or 0), output.decode(errors="replace")


def answered(report: Path) -> tuple[Counter[int], Counter[str]]:
    """From an NDJSON report: how often each status was answered, each check's outcome seen."""
    statuses: Counter[int] = Counter()
    checks: Counter[str] = Counter()
    with report.open() as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished["recorder"]
            for interaction in recorder.get("interactions", {}).values():
                if interaction.get("response") is not None:
                    statuses[interaction["response"]["status_code"]] += 1
            for results in recorder.get("checks", {}).values():
                checks.update(f"{c['name']}:{c['status']}" for c in results)
    return statuses, checks


@pytest.mark.timeout(360)
async def test_no_generated_request_makes_a_500(
    pg_database_url: str, live_google: FakeGoogle, tmp_path: Path
) -> None:
    """No request schemathesis generates gets a 500, with an edge's or a student's token."""
    env = cloud_env(tmp_path / "cloud", live_google, database_url=pg_database_url)
    async with running_cloud(env) as [server]:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            signed = await client.post("/api/auth/google", json={"idToken": live_google.token()})
            student = data_of(signed)
            client.cookies.clear()
            edge = await link_device(client, student)
        for who, token in (("edge", edge["accessToken"]), ("student", student["accessToken"])):
            report = tmp_path / f"{who}.ndjson"
            code, output = await schemathesis(server.base_url, token, report)
            statuses, checks = answered(report)
            assert [s for s in statuses if s >= 500] == [], output[-4000:]
            assert code == 0, output[-4000:]
            # It was a real run: many answers, 2xx among them (the token was taken), and the
            # 5xx check ran on them and never failed.
            assert statuses.total() > 100, statuses
            assert any(200 <= s < 300 for s in statuses), statuses
            assert set(checks) == {"not_a_server_error:success"}, checks
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            me = await client.get(
                "/api/me", headers={"Authorization": f"Bearer {student['accessToken']}"}
            )
        assert me.status_code == 200, me.text  # the fuzzer never deleted its own account
