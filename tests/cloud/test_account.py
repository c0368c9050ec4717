"""`DELETE /api/me`: the account, every row of it in every table, every object, every token.

On PostgreSQL with S3 (the loopback server) and with the embedded object folder; two students
each time, so that what must stay is checked as closely as what must go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cloud.account import NOT_USER_KEYED, OWNER_COLUMNS
from cloud.db.models import Base
from cloud.errors import StoreUnavailable
from cloud.images import user_prefix
from cloud.services import CloudServices
from tests.cloud.privacy_support import (
    Student,
    database_rows,
    seeded_student,
    user_columns,
)
from tests.cloud.support import bearer, data_of, error_of, sign_in
from tests.fakes.google import FakeGoogle
from tests.support import FakeClock

pytestmark = pytest.mark.postgresql_only


@pytest.fixture(params=["s3", "folder"])
async def store_cloud(request: pytest.FixtureRequest, start_cloud: Any) -> httpx.AsyncClient:
    """The cloud on PostgreSQL with S3, then with its embedded object folder."""
    overrides = request.getfixturevalue("s3_settings") if request.param == "s3" else {}
    client: httpx.AsyncClient = await start_cloud(**overrides)
    return client


def services_of(cloud: httpx.AsyncClient) -> CloudServices:
    """The services of the app behind an in-process client."""
    app: FastAPI = cloud._transport.app  # type: ignore[attr-defined]
    found: CloudServices = app.state.services
    return found


def database_url(cloud: httpx.AsyncClient) -> str:
    """The database the app runs on."""
    return services_of(cloud).settings.database_address()


async def listing(cloud: httpx.AsyncClient, user_id: str) -> list[str]:
    """The keys under the user's prefix, as the store lists them."""
    return await services_of(cloud).objects.keys(user_prefix(user_id))


async def resync(cloud: httpx.AsyncClient, student: Student) -> httpx.Response:
    """The edge sends its session again: a harmless replay that needs a valid sync token."""
    items = student.items["session"]
    return await cloud.post("/api/sync/batch", json={"items": items}, headers=student.edge)


@pytest.fixture
async def two(
    store_cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> list[Student]:
    """Ada and Eve, each with an edge, facts of every kind and two originals."""
    return [
        await seeded_student(store_cloud, google, "ada", clock.now(), seed=1),
        await seeded_student(store_cloud, google, "eve", clock.now(), seed=2),
    ]


# --- every table is accounted for -------------------------------------------------------------


def test_every_table_is_either_deleted_or_holds_nothing_of_a_user() -> None:
    """A table added to the models must be named in one of the two maps of `cloud.account`."""
    tables = set(Base.metadata.tables)
    assert tables - set(OWNER_COLUMNS) - set(NOT_USER_KEYED) == set()
    assert set(OWNER_COLUMNS) & set(NOT_USER_KEYED) == set()


def test_every_column_naming_a_user_is_the_one_deletion_uses() -> None:
    """Each table with a `user_id`, `approved_by` or key into `users` is deleted by that column."""
    deleted_by = {(name, column.name) for name, column in OWNER_COLUMNS.items()}
    assert set(user_columns()) - deleted_by == set()


# --- what goes, what stays ----------------------------------------------------------------------


async def test_every_row_of_the_user_is_gone(
    store_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """After the deletion no table holds a row naming the user."""
    ada, _ = two
    before = await database_rows(database_url(store_cloud), ada.user_id)
    assert all(before[f"{table}.{c.name}"] > 0 for table, c in OWNER_COLUMNS.items()), before
    data_of(await store_cloud.delete("/api/me", headers=ada.me))
    after = await database_rows(database_url(store_cloud), ada.user_id)
    assert {column: n for column, n in after.items() if n} == {}


async def test_every_object_of_the_user_is_gone(
    store_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """After the deletion a listing of the user's prefix is empty."""
    ada, _ = two
    assert len(await listing(store_cloud, ada.user_id)) == 2
    data_of(await store_cloud.delete("/api/me", headers=ada.me))
    assert await listing(store_cloud, ada.user_id) == []


async def test_another_students_rows_and_objects_stay(
    store_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """Eve's rows, objects and tokens are exactly as before Ada's deletion."""
    ada, eve = two
    rows = await database_rows(database_url(store_cloud), eve.user_id)
    keys = await listing(store_cloud, eve.user_id)
    data_of(await store_cloud.delete("/api/me", headers=ada.me))
    assert await database_rows(database_url(store_cloud), eve.user_id) == rows
    assert await listing(store_cloud, eve.user_id) == keys
    data_of(await store_cloud.get("/api/me", headers=eve.me))
    data_of(await resync(store_cloud, eve))


async def test_the_answer_counts_what_was_deleted(
    store_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """The envelope names every table with its count, and the objects."""
    ada, _ = two
    deleted = data_of(await store_cloud.delete("/api/me", headers=ada.me))
    assert deleted["userId"] == ada.user_id
    assert deleted["objects"] == 2
    assert deleted["rows"] == {
        "users": 1,
        "devices": 1,
        "device_codes": 1,
        "approval_attempts": 1,
        "refresh_tokens": 2,
        "study_sessions": 1,
        "learning_events": 2,
        "topic_segments": 1,
        "bookmarks": 1,
        "help_requests": 1,
        "cards": 1,
        "review_logs": 1,
        "images": 2,
    }


# --- every token ------------------------------------------------------------------------------


async def test_the_students_unexpired_access_token_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The access token that deleted the account (a JWT still within its 15 minutes) is 401."""
    pair = await sign_in(cloud, google)
    data_of(await cloud.delete("/api/me", headers=bearer(pair["accessToken"])))
    error = error_of(await cloud.get("/api/me", headers=bearer(pair["accessToken"])), 401)
    assert error["code"] == "invalid_token"


async def test_the_students_refresh_token_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The refresh token of the deleted account no longer rotates."""
    pair = await sign_in(cloud, google)
    data_of(await cloud.delete("/api/me", headers=bearer(pair["accessToken"])))
    response = await cloud.post("/api/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert error_of(response, 401)["code"] == "invalid_grant"


async def test_a_linked_edges_tokens_are_refused(
    store_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """The edge's sync access token and its refresh token are 401 after the deletion."""
    ada, _ = two
    data_of(await store_cloud.delete("/api/me", headers=ada.me))
    synced = await resync(store_cloud, ada)
    assert error_of(synced, 401)["code"] == "invalid_token"
    refreshed = await store_cloud.post(
        "/api/auth/refresh", json={"refreshToken": ada.device["refreshToken"]}
    )
    assert error_of(refreshed, 401)["code"] == "invalid_grant"


async def test_a_repeated_delete_is_401(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """The second DELETE finds no account behind its token."""
    pair = await sign_in(cloud, google)
    data_of(await cloud.delete("/api/me", headers=bearer(pair["accessToken"])))
    again = await cloud.delete("/api/me", headers=bearer(pair["accessToken"]))
    assert error_of(again, 401)["code"] == "invalid_token"


async def test_signing_in_again_makes_a_fresh_empty_account(
    store_cloud: httpx.AsyncClient, google: FakeGoogle, two: list[Student]
) -> None:
    """The same Google account signs in to a new user id with nothing in it."""
    ada, _ = two
    data_of(await store_cloud.delete("/api/me", headers=ada.me))
    fresh = await sign_in(store_cloud, google, "sub-ada", "ada@example.com")
    assert fresh["userId"] != ada.user_id
    devices = data_of(await store_cloud.get("/api/devices", headers=bearer(fresh["accessToken"])))
    assert devices == {"devices": []}
    rows = await database_rows(database_url(store_cloud), fresh["userId"])
    assert {column: n for column, n in rows.items() if n} == {
        "users.id": 1,
        "refresh_tokens.user_id": 1,
    }


# --- a failing object store -----------------------------------------------------------------


class FailingDeletes:
    """The app's store, whose deletes fail until `heal` (an S3 outage)."""

    def __init__(self, delete: Callable[[list[str]], Awaitable[None]]) -> None:
        self.real_delete = delete
        self.failing = True

    async def delete(self, keys: list[str]) -> None:
        """Fail while broken, else delete."""
        if self.failing:
            raise StoreUnavailable("The object store failed a delete.")
        await self.real_delete(keys)


@pytest.fixture
def outage(store_cloud: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> FailingDeletes:
    """Make the app's object store fail its deletes."""
    store = services_of(store_cloud).objects
    failing = FailingDeletes(store.delete)
    monkeypatch.setattr(store, "delete", failing.delete)
    return failing


async def test_a_store_failure_is_a_503_that_keeps_the_account(
    store_cloud: httpx.AsyncClient, two: list[Student], outage: FailingDeletes
) -> None:
    """The answer says the deletion is incomplete; the account and its rows are all there."""
    ada, _ = two
    rows = await database_rows(database_url(store_cloud), ada.user_id)
    error = error_of(await store_cloud.delete("/api/me", headers=ada.me), 503)
    assert error["code"] == "deletion_incomplete"
    assert "again" in error["message"]
    data_of(await store_cloud.get("/api/me", headers=ada.me))
    assert await database_rows(database_url(store_cloud), ada.user_id) == rows
    assert len(await listing(store_cloud, ada.user_id)) == 2


async def test_a_store_failure_already_unlinks_the_edges(
    store_cloud: httpx.AsyncClient, two: list[Student], outage: FailingDeletes
) -> None:
    """While objects cannot be deleted, the edges can no longer sync (nor upload new ones)."""
    ada, _ = two
    error_of(await store_cloud.delete("/api/me", headers=ada.me), 503)
    synced = await resync(store_cloud, ada)
    assert error_of(synced, 401)["code"] == "invalid_token"


async def test_a_retry_after_a_store_failure_finishes_the_job(
    store_cloud: httpx.AsyncClient, two: list[Student], outage: FailingDeletes
) -> None:
    """Once the store is back, the same request deletes every object and every row."""
    ada, _ = two
    error_of(await store_cloud.delete("/api/me", headers=ada.me), 503)
    outage.failing = False
    deleted = data_of(await store_cloud.delete("/api/me", headers=ada.me))
    assert deleted["objects"] == 2
    assert await listing(store_cloud, ada.user_id) == []
    rows = await database_rows(database_url(store_cloud), ada.user_id)
    assert {column: n for column, n in rows.items() if n} == {}


# --- who may delete ---------------------------------------------------------------------------


async def test_without_a_token_it_is_401(cloud: httpx.AsyncClient) -> None:
    """No token, no deletion."""
    assert error_of(await cloud.delete("/api/me"), 401)["code"] == "unauthenticated"


async def test_an_expired_token_is_401_and_deletes_nothing(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """An access token past its 15 minutes is refused; the account stays."""
    pair = await sign_in(cloud, google)
    clock.advance(16 * 60)
    response = await cloud.delete("/api/me", headers=bearer(pair["accessToken"]))
    assert error_of(response, 401)["code"] == "invalid_token"
    rows = await database_rows(database_url(cloud), pair["userId"])
    assert rows["users.id"] == 1


async def test_a_refresh_token_as_bearer_is_401(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The opaque refresh token is no access token."""
    pair = await sign_in(cloud, google)
    response = await cloud.delete("/api/me", headers=bearer(pair["refreshToken"]))
    assert error_of(response, 401)["code"] == "invalid_token"
    data_of(await cloud.get("/api/me", headers=bearer(pair["accessToken"])))


async def test_a_devices_sync_token_is_403(
    store_cloud: httpx.AsyncClient, two: list[Student]
) -> None:
    """A linked edge cannot delete its student's account; nothing is unlinked either."""
    ada, _ = two
    response = await store_cloud.delete("/api/me", headers=ada.edge)
    assert error_of(response, 403)["code"] == "insufficient_scope"
    data_of(await resync(store_cloud, ada))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.testserver"},
    ],
)
async def test_a_cross_site_cookie_request_is_403(
    cloud: httpx.AsyncClient, google: FakeGoogle, headers: dict[str, str]
) -> None:
    """With the access cookie, another site's page cannot delete the account."""
    pair = await sign_in(cloud, google)
    cloud.cookies.set("studylens_access", pair["accessToken"])
    response = await cloud.delete("/api/me", headers=headers)
    assert error_of(response, 403)["code"] == "cross_site_refused"
    data_of(await cloud.get("/api/me", headers=bearer(pair["accessToken"])))


async def test_a_cookie_request_from_the_clouds_own_page_deletes(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The cloud's own page may delete with the cookie, and the answer clears both cookies."""
    pair = await sign_in(cloud, google)
    cloud.cookies.set("studylens_access", pair["accessToken"])
    response = await cloud.delete(
        "/api/me", headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    )
    assert data_of(response)["userId"] == pair["userId"]
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith('studylens_access="";') or "studylens_access=;" in c for c in cleared)
