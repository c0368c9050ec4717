"""Linking an edge with the device code flow, and managing linked devices."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cloud.support import bearer, data_of, error_of, link_device, sign_in
from tests.fakes.google import CLIENT_ID, FakeGoogle
from tests.support import FakeClock

#: PostgreSQL only: the core modules (auth, ingest, analytics) also run on SQLite.
pytestmark = pytest.mark.postgresql_only


async def start_code(cloud: httpx.AsyncClient, name: str = "Desk Pi") -> dict[str, Any]:
    """Ask for a device code for an edge called `name`; return the answer's data."""
    code: dict[str, Any] = data_of(await cloud.post("/api/devices/code", json={"name": name}))
    return code


async def poll(cloud: httpx.AsyncClient, device_code: str) -> httpx.Response:
    """Poll the token endpoint with a device code."""
    return await cloud.post("/api/devices/token", json={"deviceCode": device_code})


async def approve(cloud: httpx.AsyncClient, user_code: str, pair: dict[str, Any]) -> httpx.Response:
    """Approve a user code as the signed-in holder of `pair`."""
    return await cloud.post(
        "/api/devices/approve", json={"userCode": user_code}, headers=bearer(pair["accessToken"])
    )


async def test_code_has_the_rfc_8628_shape(cloud: httpx.AsyncClient) -> None:
    """A device code answer has RFC 8628's fields: an XXXX-XXXX code, URIs, interval, expiry."""
    code = await start_code(cloud)
    assert len(code["userCode"]) == 9
    assert code["userCode"][4] == "-"
    assert code["verificationUri"] == "http://testserver/device"
    assert code["verificationUriComplete"].endswith(f"?user_code={code['userCode']}")
    assert code["interval"] == 5
    assert code["expiresIn"] == 600
    assert len(code["deviceCode"]) >= 32


async def test_poll_before_approval_is_pending(cloud: httpx.AsyncClient) -> None:
    """Polling before approval is authorization_pending."""
    code = await start_code(cloud)
    error = error_of(await poll(cloud, code["deviceCode"]), 400)
    assert error["code"] == "authorization_pending"


async def test_polling_faster_than_the_interval_is_slow_down(
    cloud: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Polling sooner than the interval is slow_down, and each one adds five seconds to it."""
    code = await start_code(cloud)
    error_of(await poll(cloud, code["deviceCode"]), 400)
    clock.advance(2)
    assert error_of(await poll(cloud, code["deviceCode"]), 400)["code"] == "slow_down"
    clock.advance(6)  # the interval grew by five seconds: 6 s is still too soon
    assert error_of(await poll(cloud, code["deviceCode"]), 400)["code"] == "slow_down"
    clock.advance(16)
    assert error_of(await poll(cloud, code["deviceCode"]), 400)["code"] == ("authorization_pending")


async def test_expired_code_is_expired_token(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """After ten minutes a code is expired_token to both polling and approval."""
    code = await start_code(cloud)
    clock.advance(601)
    assert error_of(await poll(cloud, code["deviceCode"]), 400)["code"] == "expired_token"
    pair = await sign_in(cloud, google)
    assert error_of(await approve(cloud, code["userCode"], pair), 400)["code"] == "expired_token"


async def test_approval_gives_the_device_a_sync_token(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Once approved, in any case and without the dash, polling gives the device a sync token."""
    pair = await sign_in(cloud, google)
    code = await start_code(cloud, "Kitchen laptop")
    approved = data_of(await approve(cloud, code["userCode"].lower().replace("-", ""), pair))
    assert approved["deviceName"] == "Kitchen laptop"
    tokens = data_of(await poll(cloud, code["deviceCode"]))
    assert tokens["scope"] == "sync"
    assert tokens["userId"] == pair["userId"]
    assert tokens["deviceId"]
    me = data_of(await cloud.get("/api/me", headers=bearer(tokens["accessToken"])))
    assert me["scope"] == "sync"
    assert me["deviceId"] == tokens["deviceId"]


async def test_device_code_is_exchanged_only_once(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """A device code yields tokens once; polling it again is expired_token."""
    pair = await sign_in(cloud, google)
    code = await start_code(cloud)
    data_of(await approve(cloud, code["userCode"], pair))
    data_of(await poll(cloud, code["deviceCode"]))
    clock.advance(10)
    assert error_of(await poll(cloud, code["deviceCode"]), 400)["code"] == "expired_token"


async def test_unknown_device_code_is_invalid_grant(cloud: httpx.AsyncClient) -> None:
    """Polling with an unknown device code is invalid_grant."""
    assert error_of(await poll(cloud, "z" * 43), 400)["code"] == "invalid_grant"


async def test_unknown_user_code_is_a_404(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """Approving an unknown user code is a 404."""
    pair = await sign_in(cloud, google)
    assert error_of(await approve(cloud, "BBBB-BBBB", pair), 404)["code"] == "not_found"


async def test_approval_needs_a_signed_in_student(cloud: httpx.AsyncClient) -> None:
    """Approving without a token is a 401."""
    code = await start_code(cloud)
    response = await cloud.post("/api/devices/approve", json={"userCode": code["userCode"]})
    assert error_of(response, 401)["code"] == "unauthenticated"


async def test_a_device_cannot_approve_another_device(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A device's sync token cannot approve another device code."""
    pair = await sign_in(cloud, google)
    device = await link_device(cloud, pair)
    code = await start_code(cloud)
    assert error_of(await approve(cloud, code["userCode"], device), 403)["code"] == "forbidden"


async def test_sync_token_cannot_call_admin(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A device's sync token is forbidden the admin routes."""
    pair = await sign_in(cloud, google)
    device = await link_device(cloud, pair)
    response = await cloud.get("/api/admin/users", headers=bearer(device["accessToken"]))
    assert error_of(response, 403)["code"] == "forbidden"


async def test_sync_token_cannot_list_or_revoke_devices(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A device's sync token can neither list devices nor revoke one."""
    pair = await sign_in(cloud, google)
    device = await link_device(cloud, pair)
    headers = bearer(device["accessToken"])
    error_of(await cloud.get("/api/devices", headers=headers), 403)
    error_of(await cloud.delete(f"/api/devices/{device['deviceId']}", headers=headers), 403)


async def test_device_refresh_rotates_within_sync_scope(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Refreshing a device's token keeps the sync scope and the device id."""
    pair = await sign_in(cloud, google)
    device = await link_device(cloud, pair)
    rotated = data_of(
        await cloud.post("/api/auth/refresh", json={"refreshToken": device["refreshToken"]})
    )
    assert rotated["scope"] == "sync"
    assert rotated["deviceId"] == device["deviceId"]


async def test_devices_are_listed_for_their_owner_only(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The device list shows only the caller's own devices."""
    ada = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    bob = await sign_in(cloud, google, "sub-bob", "bob@example.com")
    await link_device(cloud, ada, "Ada's Pi")
    await link_device(cloud, bob, "Bob's laptop")
    listed = data_of(await cloud.get("/api/devices", headers=bearer(ada["accessToken"])))
    assert [d["name"] for d in listed["devices"]] == ["Ada's Pi"]


async def test_revoked_device_loses_access_and_refresh(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Revoking a device refuses both its access token and its refresh token."""
    pair = await sign_in(cloud, google)
    device = await link_device(cloud, pair)
    revoked = await cloud.delete(
        f"/api/devices/{device['deviceId']}", headers=bearer(pair["accessToken"])
    )
    assert data_of(revoked)["revoked"] is True
    error_of(await cloud.get("/api/me", headers=bearer(device["accessToken"])), 401)
    response = await cloud.post("/api/auth/refresh", json={"refreshToken": device["refreshToken"]})
    assert error_of(response, 401)["code"] == "invalid_grant"


async def test_cannot_revoke_someone_elses_device(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Revoking another user's device is a 404 and the device keeps working."""
    ada = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    bob = await sign_in(cloud, google, "sub-bob", "bob@example.com")
    device = await link_device(cloud, bob)
    response = await cloud.delete(
        f"/api/devices/{device['deviceId']}", headers=bearer(ada["accessToken"])
    )
    assert error_of(response, 404)["code"] == "not_found"
    data_of(await cloud.get("/api/me", headers=bearer(device["accessToken"])))


async def test_bad_device_bodies_are_400s(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A missing device code, an empty or too long name, and an empty user code are 400s."""
    pair = await sign_in(cloud, google)
    assert error_of(await cloud.post("/api/devices/token", json={}), 400)["code"] == (
        "invalid_request"
    )
    error_of(await cloud.post("/api/devices/code", json={"name": ""}), 400)
    error_of(await cloud.post("/api/devices/code", json={"name": "x" * 81}), 400)
    error_of(await approve(cloud, "", pair), 400)


async def test_verification_page_is_served_with_the_client_id(cloud: httpx.AsyncClient) -> None:
    """The verification URI answers an HTML page that knows the Google client id."""
    code = await start_code(cloud)
    page = await cloud.get(code["verificationUriComplete"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'const clientId = "{CLIENT_ID}";' in page.text
    assert "/api/devices/approve" in page.text


async def test_a_browser_session_cookie_approves_a_code(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """After signing in on the page, the access cookie alone authorises the approval."""
    data_of(await cloud.post("/api/auth/google", json={"idToken": google.token()}))
    code = await start_code(cloud)
    approved = await cloud.post("/api/devices/approve", json={"userCode": code["userCode"]})
    assert data_of(approved)["deviceName"] == "Desk Pi"
    assert data_of(await poll(cloud, code["deviceCode"]))["scope"] == "sync"
