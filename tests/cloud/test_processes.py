"""The API as deployed: `studylens-cloud serve` processes, embedded or sharing PostgreSQL."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import httpx

from tests.cloud.support import cloud_env, data_of, running_cloud
from tests.fakes.google import FakeGoogle


async def test_serve_with_nothing_configured_runs_embedded(tmp_path: Path) -> None:
    """`serve` with only a data dir runs on SQLite and a folder, with a private JWT secret."""
    data = tmp_path / "cloud"
    async with (
        running_cloud({"STUDYLENS_CLOUD_DATA_DIR": str(data)}) as [server],
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        ready = data_of(await client.get("/readyz"))
        code = data_of(await client.post("/api/devices/code", json={"name": "Pi"}))
    assert ready["checks"] == {"database": "ok", "objects": "ok"}
    assert code["verificationUri"] == f"{server.base_url}/device"
    assert (data / "cloud.db").is_file()
    assert (data / "objects").is_dir()
    assert stat.S_IMODE((data / "jwt-secret").stat().st_mode) == 0o600


def shared_env(
    database_url: str, google: FakeGoogle, tmp_path: Path, grace: float
) -> dict[str, str]:
    """Environment for servers sharing one PostgreSQL, JWT secret and refresh grace."""
    return cloud_env(
        tmp_path / "cloud",
        google,
        database_url=database_url,
        jwt_secret="shared-secret-of-both-processes-0123456789",  # noqa: S106 - test-only
        refresh_grace_seconds=grace,
    )


async def race_refreshes(bases: list[str], google: FakeGoogle, copies: int) -> list[httpx.Response]:
    """Sign in, then send `copies` refreshes of one token at once, spread over the servers."""
    async with httpx.AsyncClient() as client:
        signed = await client.post(f"{bases[0]}/api/auth/google", json={"idToken": google.token()})
        token = data_of(signed)["refreshToken"]
        return await asyncio.gather(
            *(
                client.post(
                    f"{bases[i % len(bases)]}/api/auth/refresh", json={"refreshToken": token}
                )
                for i in range(copies)
            )
        )


async def test_parallel_refresh_on_two_processes_lets_exactly_one_through(
    pg_database_url: str, live_google: FakeGoogle, tmp_path: Path
) -> None:
    """Without grace, concurrent refreshes across two processes let exactly one through."""
    env = shared_env(pg_database_url, live_google, tmp_path, grace=0)
    async with running_cloud(env, processes=2) as servers:
        answers = await race_refreshes([s.base_url for s in servers], live_google, 6)
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401, 401]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 401} == {"invalid_grant"}


async def test_parallel_refresh_on_two_processes_rotates_once_within_grace(
    pg_database_url: str, live_google: FakeGoogle, tmp_path: Path
) -> None:
    """With grace, concurrent refreshes across two processes all get the same successor."""
    env = shared_env(pg_database_url, live_google, tmp_path, grace=30)
    async with running_cloud(env, processes=2) as servers:
        answers = await race_refreshes([s.base_url for s in servers], live_google, 6)
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["data"]["refreshToken"] for a in answers}) == 1
