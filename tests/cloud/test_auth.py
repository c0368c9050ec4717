"""Refresh rotation, reuse detection, the grace retry, logout and access token expiry."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.cloud.support import bearer, data_of, error_of, sign_in
from tests.conftest import pg_admin
from tests.fakes.google import FakeGoogle
from tests.support import FakeClock


async def refresh(cloud: httpx.AsyncClient, token: str) -> httpx.Response:
    """POST a refresh token to the refresh endpoint."""
    return await cloud.post("/api/auth/refresh", json={"refreshToken": token})


async def me(cloud: httpx.AsyncClient, pair: dict[str, Any]) -> httpx.Response:
    """GET /api/me with the pair's access token."""
    return await cloud.get("/api/me", headers=bearer(pair["accessToken"]))


async def test_refresh_rotates_the_pair(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """Refreshing gives the same user a new access and refresh token, and the new one works."""
    first = await sign_in(cloud, google)
    second = data_of(await refresh(cloud, first["refreshToken"]))
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert second["userId"] == first["userId"]
    data_of(await me(cloud, second))


async def test_refresh_from_the_cookie(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A refresh with no body uses the refresh cookie set at sign-in."""
    await cloud.post("/api/auth/google", json={"idToken": google.token()})
    response = await cloud.post("/api/auth/refresh")
    assert data_of(response)["scope"] == "user"


async def test_successor_keeps_rotating(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """Each successor refresh token can itself be rotated, again and again."""
    pair = await sign_in(cloud, google)
    for _ in range(3):
        pair = data_of(await refresh(cloud, pair["refreshToken"]))
    data_of(await me(cloud, pair))


async def test_reuse_after_grace_revokes_the_whole_family(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """Reusing a rotated refresh token after the grace period revokes its successor too."""
    first = await sign_in(cloud, google)
    second = data_of(await refresh(cloud, first["refreshToken"]))
    clock.advance(31)  # past the 30 s grace period
    error = error_of(await refresh(cloud, first["refreshToken"]), 401)
    assert error["code"] == "invalid_grant"
    # The legitimate holder's successor is dead too: the family is revoked.
    assert error_of(await refresh(cloud, second["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_retry_within_grace_gets_the_same_successor(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """A retry within the grace period gets the same successor, which still works."""
    first = await sign_in(cloud, google)
    lost = data_of(await refresh(cloud, first["refreshToken"]))
    clock.advance(5)
    retried = data_of(await refresh(cloud, first["refreshToken"]))
    assert retried["refreshToken"] == lost["refreshToken"]
    # And the successor still works: nothing was revoked.
    data_of(await refresh(cloud, retried["refreshToken"]))


async def test_retry_after_the_successor_was_used_is_reuse(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Replaying a token whose successor was already used is reuse: the family is revoked."""
    first = await sign_in(cloud, google)
    second = data_of(await refresh(cloud, first["refreshToken"]))
    third = data_of(await refresh(cloud, second["refreshToken"]))
    assert error_of(await refresh(cloud, first["refreshToken"]), 401)["code"] == "invalid_grant"
    assert error_of(await refresh(cloud, third["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_grace_zero_means_any_reuse_revokes(start_cloud: Any, google: FakeGoogle) -> None:
    """With zero grace, any second use of a refresh token is refused."""
    cloud = await start_cloud(refresh_grace_seconds=0)
    first = await sign_in(cloud, google)
    data_of(await refresh(cloud, first["refreshToken"]))
    assert error_of(await refresh(cloud, first["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_grace_zero_refuses_reuse_seen_by_a_lagging_clock(
    start_cloud: Any, google: FakeGoogle, clock: FakeClock
) -> None:
    """With zero grace, a second use is refused even if its time is before the rotation."""
    # Another process's clock, or a time read before waiting on the row lock.
    cloud = await start_cloud(refresh_grace_seconds=0)
    first = await sign_in(cloud, google)
    data_of(await refresh(cloud, first["refreshToken"]))
    clock.advance(-0.5)
    assert error_of(await refresh(cloud, first["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_parallel_refreshes_rotate_once(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """Concurrent refreshes of one token all get the same successor."""
    pair = await sign_in(cloud, google)
    answers = await asyncio.gather(*(refresh(cloud, pair["refreshToken"]) for _ in range(4)))
    tokens = {data_of(a)["refreshToken"] for a in answers}
    assert len(tokens) == 1  # one rotation; the racers got the same successor (grace)


async def test_parallel_refreshes_without_grace_let_exactly_one_through(
    start_cloud: Any, google: FakeGoogle
) -> None:
    """Without grace, one of four concurrent refreshes succeeds and the rest are 401s."""
    cloud = await start_cloud(refresh_grace_seconds=0)
    pair = await sign_in(cloud, google)
    answers = await asyncio.gather(*(refresh(cloud, pair["refreshToken"]) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_unknown_refresh_token_is_invalid_grant(cloud: httpx.AsyncClient) -> None:
    """A refresh token the server never issued is invalid_grant."""
    error = error_of(await refresh(cloud, "x" * 64), 401)
    assert error["code"] == "invalid_grant"


async def test_refresh_without_any_token_is_invalid_grant(cloud: httpx.AsyncClient) -> None:
    """A refresh with neither a body token nor a cookie is invalid_grant."""
    assert error_of(await cloud.post("/api/auth/refresh"), 401)["code"] == "invalid_grant"


async def test_refresh_token_of_wrong_shape_is_a_400(cloud: httpx.AsyncClient) -> None:
    """A refresh token that is not a string is a 400 invalid_request."""
    response = await cloud.post("/api/auth/refresh", json={"refreshToken": 42})
    assert error_of(response, 400)["code"] == "invalid_request"


async def test_expired_refresh_token_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """A refresh token is refused after 31 days."""
    pair = await sign_in(cloud, google)
    clock.advance(31 * 86_400)
    assert error_of(await refresh(cloud, pair["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_logout_kills_the_access_token(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """After logout the access token is refused as invalid_token."""
    pair = await sign_in(cloud, google)
    data_of(await me(cloud, pair))
    out = await cloud.post(
        "/api/auth/logout",
        json={"refreshToken": pair["refreshToken"]},
        headers=bearer(pair["accessToken"]),
    )
    assert data_of(out) == {"signedOut": True}
    assert error_of(await me(cloud, pair), 401)["code"] == "invalid_token"


async def test_logout_kills_the_refresh_token(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """After logout the refresh token is refused as invalid_grant."""
    pair = await sign_in(cloud, google)
    await cloud.post(
        "/api/auth/logout",
        json={"refreshToken": pair["refreshToken"]},
        headers=bearer(pair["accessToken"]),
    )
    assert error_of(await refresh(cloud, pair["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_logout_clears_the_cookies(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """Logout clears the auth cookies, so /api/me is unauthenticated afterwards."""
    await cloud.post("/api/auth/google", json={"idToken": google.token()})
    response = await cloud.post("/api/auth/logout")
    assert data_of(response) == {"signedOut": True}
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith('studylens_access=""') or "Max-Age=0" in c for c in cleared)
    assert error_of(await cloud.get("/api/me"), 401)["code"] == "unauthenticated"


async def test_other_sign_ins_survive_a_logout(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Logging out one sign-in leaves the same user's other sign-in working."""
    phone = await sign_in(cloud, google)
    laptop = await sign_in(cloud, google)
    await cloud.post(
        "/api/auth/logout",
        json={"refreshToken": phone["refreshToken"]},
        headers=bearer(phone["accessToken"]),
    )
    data_of(await me(cloud, laptop))
    data_of(await refresh(cloud, laptop["refreshToken"]))


async def test_expired_access_token_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """An access token is refused once its 15 minutes are up."""
    pair = await sign_in(cloud, google)
    clock.advance(15 * 60 + 1)
    assert error_of(await me(cloud, pair), 401)["code"] == "invalid_token"


async def test_access_token_signed_with_another_secret_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """An access token re-signed with a different secret is refused."""
    import jwt

    pair = await sign_in(cloud, google)
    claims = jwt.decode(pair["accessToken"], options={"verify_signature": False})
    forged = jwt.encode(claims, "some-other-secret-of-enough-length!", algorithm="HS256")
    assert error_of(await me(cloud, {"accessToken": forged}), 401)["code"] == "invalid_token"


async def test_malformed_authorization_header_is_a_401(cloud: httpx.AsyncClient) -> None:
    """A non-Bearer Authorization header is a 401 that asks for a Bearer token."""
    response = await cloud.get("/api/me", headers={"Authorization": "Basic abc"})
    error = error_of(response, 401)
    assert error["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_by_refresh_token_stops_that_sign_ins_access_tokens(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A logout that sends only the refresh token refuses the family's access token at once."""
    pair = await sign_in(cloud, google)
    out = await cloud.post("/api/auth/logout", json={"refreshToken": pair["refreshToken"]})
    assert data_of(out) == {"signedOut": True}
    assert error_of(await me(cloud, pair), 401)["code"] == "invalid_token"


async def test_reuse_detection_stops_the_familys_access_tokens(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """Once reuse revokes a family, the access token of its newest pair is refused at once."""
    first = await sign_in(cloud, google)
    second = data_of(await refresh(cloud, first["refreshToken"]))
    clock.advance(31)
    error_of(await refresh(cloud, first["refreshToken"]), 401)
    assert error_of(await me(cloud, second), 401)["code"] == "invalid_token"


async def delete_user_behind_its_tokens(database_url: str, user_id: str) -> None:
    """Delete a user row but keep its refresh tokens, past the foreign key (an orphaned row)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as db:
            db.execute("PRAGMA foreign_keys=OFF")
            db.execute("DELETE FROM users WHERE id = ?", (user_id,))
        return
    drop = "ALTER TABLE refresh_tokens DROP CONSTRAINT fk_refresh_tokens_user_id"
    delete = f"DELETE FROM users WHERE id = '{uuid.UUID(user_id)}'"  # noqa: S608 - a UUID
    statement = f"{drop}; {delete}"
    await pg_admin(statement, database=url.database)


async def restore_user_foreign_key(database_url: str) -> None:
    """Put back what `delete_user_behind_its_tokens` took from PostgreSQL's shared database."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        await pg_admin(
            "DELETE FROM refresh_tokens WHERE user_id NOT IN (SELECT id FROM users);"
            "ALTER TABLE refresh_tokens ADD CONSTRAINT fk_refresh_tokens_user_id"
            " FOREIGN KEY (user_id) REFERENCES users (id)",
            database=url.database,
        )


async def test_refresh_of_a_deleted_account_is_invalid_grant(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_database_url: str
) -> None:
    """A refresh token whose user is gone is 401 invalid_grant, not a 500 or a new pair."""
    pair = await sign_in(cloud, google)
    await delete_user_behind_its_tokens(cloud_database_url, pair["userId"])
    try:
        response = await refresh(cloud, pair["refreshToken"])
    finally:
        await restore_user_foreign_key(cloud_database_url)
    assert error_of(response, 401)["code"] == "invalid_grant"


async def test_a_retry_at_exactly_the_grace_is_reuse(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """The grace period is half-open: a retry 30 s after the rotation revokes the family."""
    first = await sign_in(cloud, google)
    second = data_of(await refresh(cloud, first["refreshToken"]))
    clock.advance(30)

    assert error_of(await refresh(cloud, first["refreshToken"]), 401)["code"] == "invalid_grant"
    assert error_of(await refresh(cloud, second["refreshToken"]), 401)["code"] == "invalid_grant"


async def test_a_refreshed_device_token_falls_with_its_device(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A device's successor refresh token still belongs to it: revoking the device ends it."""
    from tests.cloud.support import link_device

    student = await sign_in(cloud, google)
    device_pair = await link_device(cloud, student)
    successor = data_of(await refresh(cloud, device_pair["refreshToken"]))
    devices = data_of(await cloud.get("/api/devices", headers=bearer(student["accessToken"])))
    [device] = devices["devices"]

    revoked = await cloud.delete(
        f"/api/devices/{device['deviceId']}", headers=bearer(student["accessToken"])
    )

    data_of(revoked)
    assert error_of(await refresh(cloud, successor["refreshToken"]), 401)["code"] == "invalid_grant"
