"""Sync ingest: idempotent upserts by id, per-item answers, and no crossing between users."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.db.models import CardRow, DeviceRow, LearningEvent, ReviewLogRow
from cloud.errors import InvalidToken, StoreUnavailable
from cloud.images import image_key, user_prefix
from cloud.services import CloudServices
from tests.cloud.support import (
    bearer,
    card_item,
    data_of,
    error_of,
    event_item,
    graded,
    link_device,
    review_item,
    segment_item,
    session_item,
    sign_in,
)
from tests.cloud.test_images import presign, ref
from tests.cloud.test_images import upload as put_image
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.support import FakeClock, berlin


async def linked(cloud: httpx.AsyncClient, google: FakeGoogle, who: str = "ada") -> dict[str, Any]:
    """Sign in `who` and link an edge: the user, the device, and the headers of each."""
    user = await sign_in(cloud, google, f"sub-{who}", f"{who}@example.com")
    device = await link_device(cloud, user)
    return {
        "user": user,
        "device": device,
        "headers": bearer(device["accessToken"]),
        "me": bearer(user["accessToken"]),
    }


async def send(
    cloud: httpx.AsyncClient, headers: dict[str, str], items: list[dict[str, Any]]
) -> httpx.Response:
    """POST a sync batch with the given headers."""
    return await cloud.post("/api/sync/batch", json={"items": items}, headers=headers)


def study_day(session_id: str | None = None) -> list[dict[str, Any]]:
    """One session on 2026-11-25 with a segment, an event, a bookmark and a help request."""
    sid = session_id or str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    return [
        session_item(start, id=sid),
        segment_item(sid, "Biology", start, 600),
        event_item(sid, "Biology", start),
        {
            "id": str(uuid.uuid4()),
            "kind": "bookmark",
            "payload": {"sessionId": sid, "note": "mitosis", "createdAt": start.isoformat()},
        },
        {
            "id": str(uuid.uuid4()),
            "kind": "help_request",
            "payload": {
                "sessionId": sid,
                "localDate": "2026-11-25",
                "createdAt": start.isoformat(),
            },
        },
    ]


async def test_every_kind_is_stored(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """Every item kind in a study day is stored."""
    edge = await linked(cloud, google)
    result = data_of(await send(cloud, edge["headers"], study_day()))
    assert result["stored"] == 5
    assert result["rejected"] == 0
    assert [r["status"] for r in result["results"]] == ["stored"] * 5


async def test_replaying_a_batch_changes_nothing(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Sending the same batch again stores nothing and leaves the figures as they were."""
    edge = await linked(cloud, google)
    batch = study_day()
    data_of(await send(cloud, edge["headers"], batch))
    before = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    again = data_of(await send(cloud, edge["headers"], batch))
    assert again["stored"] == 0
    assert again["unchanged"] == 5
    after = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert after == before
    assert after["topicStats"][0]["durationSeconds"] == 600


async def test_higher_revision_replaces_and_older_is_ignored(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A higher revision of an item replaces it, and a lower one is ignored."""
    edge = await linked(cloud, google)
    sid, seg = str(uuid.uuid4()), str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    data_of(await send(cloud, edge["headers"], [session_item(start, id=sid)]))
    grown = segment_item(sid, "Math", start, 900, item_id=seg, revision=3)
    stale = segment_item(sid, "Math", start, 60, item_id=seg, revision=1)
    assert data_of(await send(cloud, edge["headers"], [grown]))["stored"] == 1
    assert data_of(await send(cloud, edge["headers"], [stale]))["unchanged"] == 1
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert day["topicStats"][0]["durationSeconds"] == 900


async def test_open_segment_counts_up_to_its_last_frame(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A segment that has not ended yet counts up to its last frame."""
    edge = await linked(cloud, google)
    sid = str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    items = [session_item(start, id=sid), segment_item(sid, "English", start, 120, ended=False)]
    data_of(await send(cloud, edge["headers"], items))
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert day["topicStats"][0] == {
        "topic": "English",
        "durationSeconds": 120,
        "activeCount": 1,
        "passiveCount": 2,
        "distractedCount": 0,
    }


async def test_repeats_within_one_batch_keep_the_highest_revision(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """When one batch repeats an id, the highest revision wins and the rest are unchanged."""
    edge = await linked(cloud, google)
    sid, seg = str(uuid.uuid4()), str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    items = [
        session_item(start, id=sid),
        segment_item(sid, "Math", start, 300, item_id=seg, revision=2),
        segment_item(sid, "Math", start, 100, item_id=seg, revision=1),
    ]
    result = data_of(await send(cloud, edge["headers"], items))
    assert [r["status"] for r in result["results"]] == ["stored", "stored", "unchanged"]
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert day["totalSeconds"] == 300


async def test_a_malformed_item_is_rejected_alone(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Each malformed item is rejected with details, while the rest of the batch is stored."""
    edge = await linked(cloud, google)
    good = study_day()
    bad: list[Any] = [
        {"id": "not-a-uuid", "kind": "session", "payload": {}},
        {"id": str(uuid.uuid4()), "kind": "weather", "payload": {}},
        {"id": str(uuid.uuid4()), "kind": "topic_segment", "payload": {"topic": "Math"}},
        "just a string",
        {
            "id": str(uuid.uuid4()),
            "kind": "session",
            "payload": {
                "localDate": "2026-11-25",
                "startedAt": "2026-11-25T09:00:00",  # no offset: refused, not guessed
                "lastActivityAt": "2026-11-25T09:00:00Z",
            },
        },
    ]
    result = data_of(await send(cloud, edge["headers"], [good[0], *bad, *good[1:]]))
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["stored"] + ["rejected"] * 5 + ["stored"] * 4
    first_bad = result["results"][1]
    assert first_bad["error"]["code"] == "invalid_item"
    assert first_bad["id"] == "not-a-uuid"
    assert any(d["field"] == "id" for d in first_bad["error"]["details"])


async def test_another_user_cannot_overwrite_by_guessing_ids(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Another user sending the same ids gets id_conflict and changes nothing."""
    ada = await linked(cloud, google, "ada")
    eve = await linked(cloud, google, "eve")
    batch = study_day()
    data_of(await send(cloud, ada["headers"], batch))
    hijack = [dict(item, revision=99) for item in batch]
    result = data_of(await send(cloud, eve["headers"], hijack))
    assert result["rejected"] == 5
    assert {r["error"]["code"] for r in result["results"]} == {"id_conflict"}
    ada_day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=ada["me"]))
    eve_day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=eve["me"]))
    assert ada_day["totalSeconds"] == 600
    assert eve_day["totalSeconds"] == 0


async def test_user_and_device_come_from_the_token_not_the_body(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A user and device id in the payload are ignored: the token decides the owner."""
    ada = await linked(cloud, google, "ada")
    eve = await linked(cloud, google, "eve")
    items = study_day()
    for item in items:
        item["payload"] |= {"userId": ada["user"]["userId"], "deviceId": ada["device"]["deviceId"]}
    data_of(await send(cloud, eve["headers"], items))
    ada_day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=ada["me"]))
    assert ada_day["totalSeconds"] == 0


async def test_more_than_500_items_is_a_413(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A batch of 501 items is a 413 batch_too_large."""
    edge = await linked(cloud, google)
    start = berlin("2026-11-25 09:00")
    items = [session_item(start) for _ in range(501)]
    assert error_of(await send(cloud, edge["headers"], items), 413)["code"] == "batch_too_large"


async def test_500_items_are_accepted(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A batch of exactly 500 items is stored in full."""
    edge = await linked(cloud, google)
    start = berlin("2026-11-25 09:00")
    items = [session_item(start) for _ in range(500)]
    assert data_of(await send(cloud, edge["headers"], items))["stored"] == 500


async def test_huge_body_is_a_413(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A 17 MiB body is a 413 payload_too_large."""
    edge = await linked(cloud, google)
    body = b'{"items": ["' + b"x" * (17 * 1024 * 1024) + b'"]}'
    response = await cloud.post(
        "/api/sync/batch",
        content=body,
        headers=edge["headers"] | {"Content-Type": "application/json"},
    )
    assert error_of(response, 413)["code"] == "payload_too_large"


async def test_empty_or_shapeless_batches_are_400s(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """An empty batch, or a body without a list of items, is a 400."""
    edge = await linked(cloud, google)
    headers = edge["headers"]
    bodies: list[Any] = [{"items": []}, {}, {"items": "nope"}, [1, 2]]
    for body in bodies:
        response = await cloud.post("/api/sync/batch", json=body, headers=headers)
        assert error_of(response, 400)["code"] == "invalid_request"


async def test_a_user_token_cannot_sync(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """A student's user token cannot sync: that takes a device token."""
    user = await sign_in(cloud, google)
    response = await send(cloud, bearer(user["accessToken"]), study_day())
    assert error_of(response, 403)["code"] == "forbidden"


async def test_sync_without_a_token_is_a_401(cloud: httpx.AsyncClient) -> None:
    """Syncing without a token is a 401."""
    assert error_of(await send(cloud, {}, study_day()), 401)["code"] == "unauthenticated"


async def test_sync_marks_the_device_as_seen(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """Syncing records when the device was last seen."""
    edge = await linked(cloud, google)
    clock.advance(120)
    data_of(await send(cloud, edge["headers"], study_day()))
    devices = data_of(await cloud.get("/api/devices", headers=bearer(edge["user"]["accessToken"])))
    assert devices["devices"][0]["lastSeenAt"] == "2026-11-25T09:02:00.000Z"


async def test_a_tie_within_one_batch_keeps_the_last_copy(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Two copies of one id at the same revision in one batch: the later one is stored."""
    edge = await linked(cloud, google)
    sid, seg = str(uuid.uuid4()), str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    items = [
        session_item(start, id=sid),
        segment_item(sid, "Math", start, 100, item_id=seg, revision=1),
        segment_item(sid, "Math", start, 300, item_id=seg, revision=1),
    ]
    data_of(await send(cloud, edge["headers"], items))

    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert day["totalSeconds"] == 300


# --- tombstones -------------------------------------------------------------------------------


def tombstone(item: dict[str, Any], revision: int = 1) -> dict[str, Any]:
    """The deletion of a fact as the edge sends it: one revision past the fact's."""
    return {
        "id": item["id"],
        "kind": "tombstone",
        "revision": revision,
        "payload": {"factKind": item["kind"]},
    }


async def test_tombstones_delete_every_kind_of_fact(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A day's facts, each deleted by its tombstone, leave nothing in the figures."""
    edge = await linked(cloud, google)
    day = study_day()
    data_of(await send(cloud, edge["headers"], day))

    result = data_of(await send(cloud, edge["headers"], [tombstone(i) for i in day]))

    assert [r["status"] for r in result["results"]] == ["stored"] * 5
    daily = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert (daily["totalSeconds"], daily["totalAnalyses"]) == (0, 0)
    sessions = data_of(
        await cloud.get("/api/sessions?from=2026-11-01&to=2026-11-30", headers=edge["me"])
    )
    assert sessions["sessions"] == []


async def test_a_replayed_tombstone_deletes_nothing_more(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The same deletion again answers unchanged."""
    edge = await linked(cloud, google)
    day = study_day()
    data_of(await send(cloud, edge["headers"], day))
    data_of(await send(cloud, edge["headers"], [tombstone(day[0])]))

    again = data_of(await send(cloud, edge["headers"], [tombstone(day[0])]))

    assert again["unchanged"] == 1


async def test_a_tombstone_of_another_users_fact_deletes_nothing(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Eve naming Ada's ids deletes none of Ada's facts (and learns nothing: unchanged)."""
    ada = await linked(cloud, google, "ada")
    eve = await linked(cloud, google, "eve")
    day = study_day()
    data_of(await send(cloud, ada["headers"], day))

    result = data_of(await send(cloud, eve["headers"], [tombstone(i, 99) for i in day]))

    assert result["unchanged"] == 5
    daily = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=ada["me"]))
    assert daily["totalSeconds"] == 600


async def test_a_tombstone_older_than_the_fact_keeps_it(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A deletion at or below the stored revision is stale: the fact stays."""
    edge = await linked(cloud, google)
    sid = str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    grown = segment_item(sid, "Math", start, 900, revision=3)
    data_of(await send(cloud, edge["headers"], [session_item(start, id=sid), grown]))

    result = data_of(await send(cloud, edge["headers"], [tombstone(grown, revision=3)]))

    assert result["unchanged"] == 1
    daily = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert daily["totalSeconds"] == 900


async def test_malformed_tombstones_are_rejected_alone(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Unknown kinds, ids of the wrong shape, no payload: each rejected, the good one applied."""
    edge = await linked(cloud, google)
    day = study_day()
    data_of(await send(cloud, edge["headers"], day))
    sha = "ab" * 32
    bad: list[Any] = [
        {"id": day[1]["id"], "kind": "tombstone", "payload": {"factKind": "weather"}},
        {"id": day[1]["id"], "kind": "tombstone", "payload": {"factKind": "image"}},
        {"id": sha, "kind": "tombstone", "payload": {"factKind": "session"}},
        {"id": day[1]["id"], "kind": "tombstone"},
        {
            "id": day[1]["id"],
            "kind": "tombstone",
            "revision": -1,
            "payload": {"factKind": "bookmark"},
        },
    ]

    result = data_of(await send(cloud, edge["headers"], [*bad, tombstone(day[0])]))

    assert [r["status"] for r in result["results"]] == ["rejected"] * 5 + ["stored"]
    assert {r["error"]["code"] for r in result["results"][:5]} == {"invalid_item"}


@pytest.fixture(params=["folder", "s3"])
async def store_cloud(
    request: pytest.FixtureRequest, start_cloud: Any
) -> tuple[httpx.AsyncClient, CloudServices]:
    """The cloud with its object folder, then with S3, and its services."""
    overrides = {} if request.param == "folder" else request.getfixturevalue("s3_settings")
    client: httpx.AsyncClient = await start_cloud(**overrides)
    return client, client._transport.app.state.services  # type: ignore[attr-defined]


async def stored_image(
    cloud: httpx.AsyncClient, edge: dict[str, Any], data: bytes
) -> tuple[str, dict[str, Any]]:
    """Upload `data` as an original and send a frame that shows it; its hash and the frame."""
    [target] = data_of(await presign(cloud, edge["headers"], ref(data)))["uploads"]
    assert (await put_image(cloud, target, data)).status_code in (200, 204)
    sha = target["sha256"]
    assert data_of(await presign(cloud, edge["headers"], ref(data)))["stored"] == [sha]
    sid = str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    frame = event_item(sid, "Biology", start)
    frame["payload"]["imageSha256"] = sha
    data_of(await send(cloud, edge["headers"], [session_item(start, id=sid), frame]))
    return sha, frame


async def test_an_image_tombstone_deletes_the_object_once_no_frame_shows_it(
    store_cloud: tuple[httpx.AsyncClient, CloudServices], google: FakeGoogle
) -> None:
    """The frame's deletion first, then the image's: the object and its row are gone."""
    cloud, services = store_cloud
    edge = await linked(cloud, google)
    user_id = edge["user"]["userId"]
    sha, frame = await stored_image(cloud, edge, jpeg(64, 48, seed=1))

    result = data_of(await send(cloud, edge["headers"], [tombstone(frame), image_tombstone(sha)]))

    assert [r["status"] for r in result["results"]] == ["stored", "stored"]
    assert await services.objects.keys(user_prefix(user_id)) == []
    assert (await cloud.get(f"/api/images/{sha}", headers=edge["me"])).status_code == 404


async def test_an_image_a_kept_frame_shows_is_kept(
    store_cloud: tuple[httpx.AsyncClient, CloudServices], google: FakeGoogle
) -> None:
    """Another frame of the student still names the image: its tombstone deletes nothing."""
    cloud, services = store_cloud
    edge = await linked(cloud, google)
    user_id = edge["user"]["userId"]
    sha, _frame = await stored_image(cloud, edge, jpeg(64, 48, seed=2))

    result = data_of(await send(cloud, edge["headers"], [image_tombstone(sha)]))

    assert result["unchanged"] == 1
    assert await services.objects.keys(user_prefix(user_id)) == [image_key(user_id, sha)]


async def test_an_object_the_store_failed_to_delete_goes_on_the_retry(
    store_cloud: tuple[httpx.AsyncClient, CloudServices],
    google: FakeGoogle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store fails once: 503, and the edge's resend deletes the object then."""
    cloud, services = store_cloud
    edge = await linked(cloud, google)
    user_id = edge["user"]["userId"]
    sha, frame = await stored_image(cloud, edge, jpeg(64, 48, seed=3))
    batch = [tombstone(frame), image_tombstone(sha)]
    real_delete = services.objects.delete

    async def unavailable(keys: list[str]) -> None:
        raise StoreUnavailable("The object store failed a delete.")

    monkeypatch.setattr(services.objects, "delete", unavailable)
    failed = await send(cloud, edge["headers"], batch)
    monkeypatch.setattr(services.objects, "delete", real_delete)
    retried = data_of(await send(cloud, edge["headers"], batch))

    assert error_of(failed, 503)["code"] == "store_unavailable"
    assert retried["rejected"] == 0
    assert await services.objects.keys(user_prefix(user_id)) == []


def image_tombstone(sha256: str) -> dict[str, Any]:
    """The deletion of an original, by its hash."""
    return {"id": sha256, "kind": "tombstone", "revision": 1, "payload": {"factKind": "image"}}


async def test_a_batch_of_a_device_unlinked_after_its_token_was_checked_writes_nothing(
    store_cloud: tuple[httpx.AsyncClient, CloudServices], google: FakeGoogle
) -> None:
    """The account deletion unlinks the edge while its batch is on the way: refused, no rows."""
    cloud, services = store_cloud
    edge = await linked(cloud, google)
    device_id, user_id = edge["device"]["deviceId"], edge["user"]["userId"]
    async with services.auth.sessions.begin() as db:
        device = await db.get(DeviceRow, device_id)
        assert device is not None
        device.revoked_at = services.clock.now()

    with pytest.raises(InvalidToken):
        await services.ingest.batch(user_id, device_id, study_day())

    daily = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["me"]))
    assert (daily["totalSeconds"], daily["totalAnalyses"]) == (0, 0)


def services_of(cloud: httpx.AsyncClient) -> CloudServices:
    """The services of the app behind an in-process client."""
    found: CloudServices = cloud._transport.app.state.services  # type: ignore[attr-defined]
    return found


async def test_an_events_confidence_is_stored_and_an_older_edges_event_without_it_too(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A newer edge's confidence is kept as sent; an older edge, which sends none, stores NULL."""
    edge = await linked(cloud, google)
    sid = str(uuid.uuid4())
    start = berlin("2026-11-25 09:00")
    newer = event_item(sid, "Biology", start)
    newer["payload"] |= {"source": "on-device", "confidence": 0.72}
    older = event_item(sid, "Biology", start)
    assert "confidence" not in older["payload"]
    batch = [session_item(start, id=sid), newer, older]
    result = data_of(await send(cloud, edge["headers"], batch))
    assert [r["status"] for r in result["results"]] == ["stored"] * 3
    async with services_of(cloud).auth.sessions() as db:
        kept = {row.id: row.confidence for row in await db.scalars(select(LearningEvent))}
    assert kept == {newer["id"]: 0.72, older["id"]: None}


async def test_the_table_refuses_a_confidence_outside_0_to_1(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Past ingest's own check, the column's constraint still refuses 1.5."""
    edge = await linked(cloud, google)
    sessions = services_of(cloud).auth.sessions
    with pytest.raises(IntegrityError, match="confidence"):
        async with sessions.begin() as db:
            db.add(
                LearningEvent(
                    id=str(uuid.uuid4()),
                    user_id=edge["user"]["userId"],
                    device_id=edge["device"]["deviceId"],
                    revision=1,
                    received_at=berlin("2026-11-25 09:00"),
                    session_id=str(uuid.uuid4()),
                    local_date=berlin("2026-11-25 09:00").date(),
                    captured_at=berlin("2026-11-25 09:00"),
                    outcome="analysed",
                    extracted_text="",
                    confidence=1.5,
                )
            )


# --- review cards and their grades ------------------------------------------------------------


async def held(cloud: httpx.AsyncClient, model: Any) -> dict[str, Any]:
    """Every row of a fact table, by id."""
    async with services_of(cloud).auth.sessions() as db:
        return {row.id: row for row in await db.scalars(select(model))}


def columns(row: Any) -> dict[str, Any]:
    """A row's columns by name."""
    return {column.name: getattr(row, column.name) for column in row.__table__.columns}


def card_and_grade() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A new card, its first grade (`good`), and the card at revision 1 after that grade."""
    sid = str(uuid.uuid4())
    made, reviewed = berlin("2026-11-24 18:00"), berlin("2026-11-25 09:30")
    card = card_item(sid, "Biology", made)
    grade = review_item(card["id"], reviewed)
    after = card_item(sid, "Biology", made, item_id=card["id"], revision=1, **graded(reviewed))
    return card, grade, after


async def test_a_card_and_its_review_log_are_stored_by_name(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A card and a grade are stored with their schedule; state and rating by name."""
    edge = await linked(cloud, google)
    card, grade, _ = card_and_grade()

    result = data_of(await send(cloud, edge["headers"], [card, grade]))

    assert [r["status"] for r in result["results"]] == ["stored", "stored"]
    [stored_card] = (await held(cloud, CardRow)).values()
    assert (stored_card.id, stored_card.user_id) == (card["id"], edge["user"]["userId"])
    assert (stored_card.state, stored_card.step, stored_card.stability) == ("learning", 0, None)
    assert (stored_card.topic, stored_card.kind, stored_card.last_review) == ("Biology", "qa", None)
    assert stored_card.due == berlin("2026-11-24 18:00")
    [log] = (await held(cloud, ReviewLogRow)).values()
    assert (log.card_id, log.rating, log.state, log.step) == (card["id"], "good", "review", None)
    assert (log.stability, log.difficulty, log.review_duration_ms) == (2.0, 5.2, 4200)
    assert log.reviewed_at == berlin("2026-11-25 09:30")


async def test_a_replayed_card_and_log_are_unchanged(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """The same card and grade sent again, later: unchanged, their rows as they were."""
    edge = await linked(cloud, google)
    card, grade, _ = card_and_grade()
    data_of(await send(cloud, edge["headers"], [card, grade]))
    before = [
        columns(row)
        for model in (CardRow, ReviewLogRow)
        for row in (await held(cloud, model)).values()
    ]
    clock.advance(60)

    again = data_of(await send(cloud, edge["headers"], [card, grade]))

    assert (again["stored"], again["unchanged"]) == (0, 2)
    after = [
        columns(row)
        for model in (CardRow, ReviewLogRow)
        for row in (await held(cloud, model)).values()
    ]
    assert after == before


async def test_a_grade_updates_the_cards_schedule_and_an_older_copy_does_not(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """The card's next revision (after a grade) moves its state and due; revision 0 late: no."""
    edge = await linked(cloud, google)
    card, grade, after = card_and_grade()
    data_of(await send(cloud, edge["headers"], [card]))

    graded_now = data_of(await send(cloud, edge["headers"], [after, grade]))
    late = data_of(await send(cloud, edge["headers"], [card]))

    assert graded_now["stored"] == 2
    assert late["unchanged"] == 1
    [row] = (await held(cloud, CardRow)).values()
    assert (row.revision, row.state, row.step, row.stability) == (1, "review", None, 2.0)
    assert row.due == berlin("2026-11-27 09:30")
    assert row.last_review == berlin("2026-11-25 09:30")


async def test_another_user_cannot_overwrite_a_card_or_grade_by_its_id(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Eve sending Ada's card and grade ids at a higher revision: id_conflict, nothing changed."""
    ada = await linked(cloud, google, "ada")
    eve = await linked(cloud, google, "eve")
    card, grade, after = card_and_grade()
    data_of(await send(cloud, ada["headers"], [card, grade]))
    hijack = [dict(after, revision=99), dict(grade, revision=99)]

    result = data_of(await send(cloud, eve["headers"], hijack))

    assert [r["error"]["code"] for r in result["results"]] == ["id_conflict"] * 2
    [row] = (await held(cloud, CardRow)).values()
    assert (row.user_id, row.revision, row.state) == (ada["user"]["userId"], 0, "learning")
    [log] = (await held(cloud, ReviewLogRow)).values()
    assert (log.user_id, log.revision) == (ada["user"]["userId"], 0)


async def test_tombstones_of_cards_and_grades_delete_only_the_senders_rows(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Eve's tombstones for Ada's ids delete nothing; Ada's delete her card and grade only."""
    ada = await linked(cloud, google, "ada")
    eve = await linked(cloud, google, "eve")
    ada_card, ada_grade, _ = card_and_grade()
    eve_card, eve_grade, _ = card_and_grade()
    data_of(await send(cloud, ada["headers"], [ada_card, ada_grade]))
    data_of(await send(cloud, eve["headers"], [eve_card, eve_grade]))

    foreign = data_of(
        await send(cloud, eve["headers"], [tombstone(ada_card, 99), tombstone(ada_grade, 99)])
    )
    own = data_of(await send(cloud, ada["headers"], [tombstone(ada_card), tombstone(ada_grade)]))

    assert foreign["unchanged"] == 2
    assert [r["status"] for r in own["results"]] == ["stored", "stored"]
    assert set(await held(cloud, CardRow)) == {eve_card["id"]}
    assert set(await held(cloud, ReviewLogRow)) == {eve_grade["id"]}


async def test_a_malformed_card_is_rejected_alone_with_its_fields(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A card graded `perfect` and one in review with a step: each rejected, the rest stored."""
    edge = await linked(cloud, google)
    card, grade, _ = card_and_grade()
    bad_rating = review_item(card["id"], berlin("2026-11-25 09:30"), rating="perfect")
    stepped = card_item(card["payload"]["sessionId"], "Biology", berlin("2026-11-25 09:00"))
    stepped["payload"] |= graded(berlin("2026-11-25 09:00")) | {"step": 1}

    result = data_of(await send(cloud, edge["headers"], [card, bad_rating, stepped, grade]))

    assert [r["status"] for r in result["results"]] == ["stored", "rejected", "rejected", "stored"]
    rating_error, step_error = (result["results"][i]["error"] for i in (1, 2))
    assert [d["field"] for d in rating_error["details"]] == ["payload.rating"]
    assert [d["field"] for d in step_error["details"]] == ["payload"]
    assert "no step" in step_error["details"][0]["problem"]
