"""`studylens-edge link`, `sync now`, `sync status` and `unlink` against a real cloud process."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from edge.cli import app as edge_cli
from edge.sessions.service import SessionService
from edge.store import Store
from shared.clock import SystemClock
from tests.cloud.support import bearer, cloud_env, data_of, running_cloud
from tests.fakes.google import FakeGoogle


def polling_cloud(tmp_path: Path, google: FakeGoogle) -> dict[str, str]:
    """An embedded cloud that lets the edge poll every second."""
    return cloud_env(tmp_path / "cloud", google, device_poll_interval_seconds=1)


async def edge_cli_run(data_dir: Path, *args: str) -> tuple[int, str]:
    """Run `studylens-edge ARGS --data-dir D` in-process, off the event loop."""
    result = await asyncio.to_thread(
        CliRunner().invoke, edge_cli, [*args, "--data-dir", str(data_dir)]
    )
    return result.exit_code, result.output


async def link_by_command(cloud_url: str, data_dir: Path, student: dict[str, Any]) -> str:
    """Run `studylens-edge link` as a process, approve the code it prints; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYLENS_")}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "studylens-edge"),
        "link",
        cloud_url,
        "--name",
        "Desk Pi",
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    assert process.stdout is not None
    lines = []
    async with asyncio.timeout(60):
        async for raw in process.stdout:
            line = raw.decode().strip()
            lines.append(line)
            if len(line) == 9 and line[4] == "-":
                async with httpx.AsyncClient(base_url=cloud_url) as http:
                    approved = await http.post(
                        "/api/devices/approve",
                        json={"userCode": line},
                        headers=bearer(student["accessToken"]),
                    )
                    data_of(approved)
        assert await process.wait() == 0, "\n".join(lines)
    return "\n".join(lines)


async def test_link_sync_and_unlink(live_google: FakeGoogle, tmp_path: Path) -> None:
    """Link by command, send facts with `sync now`, see them in `sync status`, then unlink."""
    data_dir = tmp_path / "edge"
    async with running_cloud(polling_cloud(tmp_path, live_google)) as [cloud]:
        async with httpx.AsyncClient(base_url=cloud.base_url) as http:
            signed = await http.post("/api/auth/google", json={"idToken": live_google.token()})
            student = data_of(signed)
        output = await link_by_command(cloud.base_url, data_dir, student)
        assert f"{cloud.base_url}/device" in output
        link_file = data_dir / "cloud-link.json"
        assert stat.S_IMODE(link_file.stat().st_mode) == 0o600
        saved = json.loads(link_file.read_text())

        store = Store(data_dir / "studylens.db")
        await store.open()
        try:
            sessions = SessionService(store, SystemClock(), UTC, idle_after=timedelta(minutes=30))
            await sessions.load()
            await sessions.start()
        finally:
            await store.close()

        code, status = await edge_cli_run(data_dir, "sync", "status", "--json")
        assert code == 0, status
        assert json.loads(status)["pendingFacts"] == 1
        code, sent = await edge_cli_run(data_dir, "sync", "now")
        assert code == 0, sent
        assert "sent 1 facts" in sent
        code, status = await edge_cli_run(data_dir, "sync", "status", "--json")
        shown = json.loads(status)
        assert (shown["pendingFacts"], shown["linked"]) == (0, True)

        async with httpx.AsyncClient(base_url=cloud.base_url) as http:
            listed = await http.get("/api/sessions", headers=bearer(student["accessToken"]))
            assert len(data_of(listed)["sessions"]) == 1
            code, out = await edge_cli_run(data_dir, "unlink")
            assert code == 0, out
            assert not link_file.exists()
            refreshed = await http.post(
                "/api/auth/refresh", json={"refreshToken": saved["refresh_token"]}
            )
            assert refreshed.status_code == 401


async def test_link_refuses_when_already_linked(tmp_path: Path) -> None:
    """A second `link` does not overwrite the first; it asks to unlink first."""
    data_dir = tmp_path / "edge"
    data_dir.mkdir()
    (data_dir / "cloud-link.json").write_text(
        json.dumps(
            {
                "cloud_url": "https://cloud.example",
                "user_id": "u",
                "device_id": "d",
                "access_token": "a",
                "access_expires_at": "2026-11-25T10:00:00Z",
                "refresh_token": "r",
                "refresh_expires_at": "2026-12-25T10:00:00Z",
                "linked_at": "2026-11-25T09:00:00Z",
            }
        )
    )
    code, output = await edge_cli_run(data_dir, "link", "https://other.example")
    assert code == 1
    assert "already linked to https://cloud.example" in output


async def test_sync_now_without_a_link_says_so(tmp_path: Path) -> None:
    """`sync now` on an unlinked edge exits 1 with the command to link."""
    code, output = await edge_cli_run(tmp_path / "edge", "sync", "now")
    assert code == 1
    assert "studylens-edge link" in output
