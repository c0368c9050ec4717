"""The admin surface, over HTTP and through `studylens-cloud admin`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cloud.cli import app as cli
from cloud.settings import CloudSettings
from tests.cloud.support import bearer, data_of, error_of, link_device, sign_in
from tests.fakes.google import FakeGoogle
from tests.support import FakeClock

#: PostgreSQL only: the core modules (auth, ingest, analytics) also run on SQLite.
pytestmark = pytest.mark.postgresql_only


async def admin_cli(settings: CloudSettings, *args: str) -> Any:
    """Run `studylens-cloud admin ...` on the test's database (in a thread: it runs a loop)."""
    assert settings.database_url is not None
    options = [
        "--database-url",
        settings.database_url.get_secret_value(),
        "--data-dir",
        str(settings.data_dir),
    ]
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["admin", *args, *options])
    assert result.exit_code == 0, result.output
    return result.output


async def admin_pair(
    cloud: httpx.AsyncClient, google: FakeGoogle, settings: CloudSettings
) -> dict[str, Any]:
    """Sign in root@example.com and grant it admin; return its token pair."""
    pair = await sign_in(cloud, google, "sub-root", "root@example.com")
    await admin_cli(settings, "grant", "root@example.com")
    return pair


async def test_grant_makes_an_admin(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings
) -> None:
    """A student is refused the admin routes until `admin grant` makes them an admin."""
    pair = await sign_in(cloud, google, "sub-root", "root@example.com")
    error_of(await cloud.get("/api/admin/users", headers=bearer(pair["accessToken"])), 403)
    output = await admin_cli(cloud_settings, "grant", "root@example.com")
    assert "root@example.com is now admin" in output
    users = data_of(await cloud.get("/api/admin/users", headers=bearer(pair["accessToken"])))
    assert [(u["email"], u["role"]) for u in users["users"]] == [("root@example.com", "admin")]


async def test_grant_of_an_unknown_user_fails_clearly(cloud_settings: CloudSettings) -> None:
    """Granting admin to an email nobody signed in with fails and names that email."""
    assert cloud_settings.database_url is not None
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "admin",
            "grant",
            "nobody@example.com",
            "--database-url",
            cloud_settings.database_url.get_secret_value(),
        ],
    )
    assert result.exit_code != 0
    assert "nobody@example.com" in str(result.exception)


async def test_admin_lists_users_and_devices(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings
) -> None:
    """Admins see every user with a device count and every device, by HTTP and CLI."""
    root = await admin_pair(cloud, google, cloud_settings)
    ada = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    await link_device(cloud, ada, "Ada's Pi")
    headers = bearer(root["accessToken"])
    users = data_of(await cloud.get("/api/admin/users", headers=headers))["users"]
    assert {u["email"]: u["devices"] for u in users} == {
        "root@example.com": 0,
        "ada@example.com": 1,
    }
    devices = data_of(await cloud.get("/api/admin/devices", headers=headers))["devices"]
    assert [d["name"] for d in devices] == ["Ada's Pi"]
    listed = json.loads(await admin_cli(cloud_settings, "devices"))
    assert [d["name"] for d in listed] == ["Ada's Pi"]


async def test_revoking_a_users_tokens_signs_them_out_everywhere(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings, clock: FakeClock
) -> None:
    """Revoking a user's tokens refuses their sign-in and device alike; signing in again works."""
    root = await admin_pair(cloud, google, cloud_settings)
    ada = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    device = await link_device(cloud, ada)
    clock.advance(1)
    response = await cloud.post(
        "/api/admin/users/ada@example.com/revoke-tokens", headers=bearer(root["accessToken"])
    )
    assert data_of(response)["count"] == 2
    for pair in (ada, device):
        error_of(await cloud.get("/api/me", headers=bearer(pair["accessToken"])), 401)
        refreshed = await cloud.post(
            "/api/auth/refresh", json={"refreshToken": pair["refreshToken"]}
        )
        error_of(refreshed, 401)
    clock.advance(1)
    again = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    data_of(await cloud.get("/api/me", headers=bearer(again["accessToken"])))


async def test_a_sign_in_just_after_revoke_tokens_works(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings, clock: FakeClock
) -> None:
    """Revoking refuses a token from earlier in the same second, not one signed in after it."""
    root = await admin_pair(cloud, google, cloud_settings)
    clock.advance(0.2)
    before = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    clock.advance(0.3)
    revoked = await cloud.post(
        "/api/admin/users/ada@example.com/revoke-tokens", headers=bearer(root["accessToken"])
    )
    data_of(revoked)
    clock.advance(0.3)
    after = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    error_of(await cloud.get("/api/me", headers=bearer(before["accessToken"])), 401)
    data_of(await cloud.get("/api/me", headers=bearer(after["accessToken"])))


async def test_stats_count_the_service(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings
) -> None:
    """Stats count users, admins and sessions, over HTTP and in `admin stats`."""
    root = await admin_pair(cloud, google, cloud_settings)
    stats = data_of(await cloud.get("/api/admin/stats", headers=bearer(root["accessToken"])))
    assert stats["counts"]["users"] == 1
    assert stats["counts"]["admins"] == 1
    assert stats["counts"]["sessions"] == 0
    printed = json.loads(await admin_cli(cloud_settings, "stats"))
    assert printed["users"] == 1


async def test_purge_removes_expired_rows_only(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings, clock: FakeClock
) -> None:
    """Purge deletes the expired revoked token and device code, but no live refresh token."""
    root = await admin_pair(cloud, google, cloud_settings)
    old = await sign_in(cloud, google, "sub-old", "old@example.com")
    await cloud.post("/api/auth/logout", headers=bearer(old["accessToken"]))
    await cloud.post("/api/devices/code", json={})
    clock.advance(20 * 60)  # access tokens and device codes are past their lives
    root = data_of(
        await cloud.post("/api/auth/refresh", json={"refreshToken": root["refreshToken"]})
    )
    purged = data_of(await cloud.post("/api/admin/purge", headers=bearer(root["accessToken"])))
    assert purged["counts"] == {
        "revoked_access_tokens": 1,
        "refresh_tokens": 0,
        "device_codes": 1,
        "rate_windows": 0,
    }


async def test_purge_removes_rate_windows_older_than_a_day(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings, clock: FakeClock
) -> None:
    """A client address's request window is purged once no limit can still need it."""
    root = await admin_pair(cloud, google, cloud_settings)
    await cloud.post("/api/devices/code", json={})
    clock.advance(86_400 + 1)
    root = data_of(
        await cloud.post("/api/auth/refresh", json={"refreshToken": root["refreshToken"]})
    )
    purged = data_of(await cloud.post("/api/admin/purge", headers=bearer(root["accessToken"])))
    assert purged["counts"]["rate_windows"] == 1


async def test_students_cannot_use_admin_routes(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A student's token gets 403 forbidden on every admin route."""
    ada = await sign_in(cloud, google)
    headers = bearer(ada["accessToken"])
    for method, url in (
        ("GET", "/api/admin/users"),
        ("GET", "/api/admin/stats"),
        ("POST", "/api/admin/purge"),
        ("POST", "/api/admin/users/ada@example.com/revoke-tokens"),
    ):
        response = await cloud.request(method, url, headers=headers)
        assert error_of(response, 403)["code"] == "forbidden"


async def test_bad_admin_inputs(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_settings: CloudSettings
) -> None:
    """An unknown role is a 400, and revoking an unknown user's tokens is a 404."""
    root = await admin_pair(cloud, google, cloud_settings)
    headers = bearer(root["accessToken"])
    response = await cloud.post(
        "/api/admin/users/root@example.com/role", json={"role": "emperor"}, headers=headers
    )
    assert error_of(response, 400)["code"] == "invalid_request"
    response = await cloud.post("/api/admin/users/nobody/revoke-tokens", headers=headers)
    assert error_of(response, 404)["code"] == "not_found"
