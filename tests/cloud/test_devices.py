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
    error = error_of(await approve(cloud, code["userCode"], device), 403)
    assert error["code"] == "insufficient_scope"


async def test_sync_token_cannot_call_admin(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A device's sync token is forbidden the admin routes."""
    pair = await sign_in(cloud, google)
    device = await link_device(cloud, pair)
    response = await cloud.get("/api/admin/users", headers=bearer(device["accessToken"]))
    assert error_of(response, 403)["code"] == "insufficient_scope"


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
    synced = await cloud.post(
        "/api/sync/batch", json={"items": [{}]}, headers=bearer(device["accessToken"])
    )
    assert data_of(synced)["rejected"] == 1


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


# --- limits on the open and the guessable routes ------------------------------------------------


async def test_device_codes_past_the_per_address_limit_are_429(start_cloud: Any) -> None:
    """An address asking for more codes than its window allows gets 429 with Retry-After."""
    cloud = await start_cloud(device_code_rate_limit=3, device_code_rate_window_seconds=60)
    for _ in range(3):
        await start_code(cloud)
    response = await cloud.post("/api/devices/code", json={"name": "Pi"})
    assert error_of(response, 429)["code"] == "rate_limited"
    assert response.headers["retry-after"] == "60"


async def test_another_address_still_gets_device_codes(start_cloud: Any) -> None:
    """One address's limit does not hold back another address."""
    cloud = await start_cloud(device_code_rate_limit=1)
    await start_code(cloud)
    error_of(await cloud.post("/api/devices/code", json={}), 429)
    app = cloud._transport.app
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await start_code(other)


async def test_device_codes_work_again_in_the_next_window(
    start_cloud: Any, clock: FakeClock
) -> None:
    """Once the window has passed, the address gets codes again."""
    cloud = await start_cloud(device_code_rate_limit=1, device_code_rate_window_seconds=60)
    await start_code(cloud)
    error_of(await cloud.post("/api/devices/code", json={}), 429)
    clock.advance(60)
    await start_code(cloud)


async def test_pending_device_codes_are_capped(start_cloud: Any) -> None:
    """With the cap of unexpired pending codes reached, a new one is 503 with Retry-After."""
    cloud = await start_cloud(device_code_max_pending=2)
    await start_code(cloud)
    await start_code(cloud)
    response = await cloud.post("/api/devices/code", json={})
    assert error_of(response, 503)["code"] == "too_many_pending_codes"
    assert response.headers["retry-after"] == "600"


async def wrong_codes(cloud: httpx.AsyncClient, pair: dict[str, Any], count: int) -> None:
    """Enter `count` wrong user codes, each a 404."""
    for _ in range(count):
        error_of(await approve(cloud, "BBBB-BBBB", pair), 404)


async def test_five_wrong_codes_lock_the_student_out(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The fifth wrong code is 429 rate_limited, and even a right code is refused meanwhile."""
    pair = await sign_in(cloud, google)
    code = await start_code(cloud)
    await wrong_codes(cloud, pair, 4)
    locked = await approve(cloud, "BBBB-BBBB", pair)
    assert error_of(locked, 429)["code"] == "rate_limited"
    assert locked.headers["retry-after"] == "60"
    assert error_of(await approve(cloud, code["userCode"], pair), 429)["code"] == "rate_limited"


async def test_each_further_wrong_code_doubles_the_lock_out(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """After a lock-out ends, the next wrong code locks out for twice as long."""
    pair = await sign_in(cloud, google)
    await wrong_codes(cloud, pair, 4)
    error_of(await approve(cloud, "BBBB-BBBB", pair), 429)
    clock.advance(60)
    again = await approve(cloud, "BBBB-BBBB", pair)
    assert error_of(again, 429)["code"] == "rate_limited"
    assert again.headers["retry-after"] == "120"


async def test_a_lock_out_ends_and_the_right_code_then_works(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """Once the lock-out is over, the right code is approved."""
    pair = await sign_in(cloud, google)
    code = await start_code(cloud)
    await wrong_codes(cloud, pair, 4)
    error_of(await approve(cloud, "BBBB-BBBB", pair), 429)
    clock.advance(60)
    assert data_of(await approve(cloud, code["userCode"], pair))["approved"] is True


async def test_the_lock_out_holds_across_api_processes(
    start_cloud: Any, google: FakeGoogle
) -> None:
    """Wrong codes sent to one API instance lock the student out on another (one database)."""
    first = await start_cloud()
    second = await start_cloud()
    pair = await sign_in(first, google)
    await wrong_codes(first, pair, 4)
    assert error_of(await approve(second, "BBBB-BBBB", pair), 429)["code"] == "rate_limited"


async def test_lockouts_are_per_student(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """One student's wrong codes do not lock out another."""
    ada = await sign_in(cloud, google, "sub-ada", "ada@example.com")
    bob = await sign_in(cloud, google, "sub-bob", "bob@example.com")
    await wrong_codes(cloud, ada, 4)
    error_of(await approve(cloud, "BBBB-BBBB", ada), 429)
    code = await start_code(cloud)
    data_of(await approve(cloud, code["userCode"], bob))


# --- confirming what is linked ------------------------------------------------------------------


async def lookup(cloud: httpx.AsyncClient, user_code: str, pair: dict[str, Any]) -> httpx.Response:
    """Look a user code up as the holder of `pair`."""
    return await cloud.post(
        "/api/devices/lookup", json={"userCode": user_code}, headers=bearer(pair["accessToken"])
    )


async def test_lookup_shows_the_device_and_when_it_asked(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """A lookup names the device and the time it asked, without approving it."""
    pair = await sign_in(cloud, google)
    code = await start_code(cloud, "Kitchen laptop")
    shown = data_of(await lookup(cloud, code["userCode"].lower(), pair))
    assert shown == {
        "userCode": code["userCode"],
        "deviceName": "Kitchen laptop",
        "requestedAt": "2026-11-25T09:00:00.000Z",
        "expiresAt": "2026-11-25T09:10:00.000Z",
        "approved": False,
    }
    clock.advance(10)
    assert error_of(await poll(cloud, code["deviceCode"]), 400)["code"] == "authorization_pending"


async def test_wrong_lookups_count_toward_the_lock_out(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Wrong codes sent to the lookup lock the student out of approving too."""
    pair = await sign_in(cloud, google)
    code = await start_code(cloud)
    for _ in range(4):
        error_of(await lookup(cloud, "BBBB-BBBB", pair), 404)
    error_of(await lookup(cloud, "BBBB-BBBB", pair), 429)
    assert error_of(await approve(cloud, code["userCode"], pair), 429)["code"] == "rate_limited"


async def test_the_page_asks_to_confirm_before_approving(cloud: httpx.AsyncClient) -> None:
    """The verification page looks the code up and approves only from a confirming click."""
    page = (await cloud.get("/device?user_code=BBBB-BBBB")).text
    assert "/api/devices/lookup" in page
    assert 'id="confirm"' in page
    # The approval is sent from the confirm button's handler alone.
    assert page.count('fetch("/api/devices/approve"') == 1
    assert 'getElementById("confirm").addEventListener("click"' in page
