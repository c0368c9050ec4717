"""`GET /api/review/weekly`: the week's grades on the student's local days, every edge together.

The bucketing itself (`cloud.review_stats`) is tested directly; the route on SQLite and on
PostgreSQL, from facts synced as edges send them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from cloud.review_stats import Grade, by_day, by_topic, in_week, local_midnight, weekly_recall
from tests.cloud.support import (
    bearer,
    card_item,
    data_of,
    error_of,
    link_device,
    review_item,
    sign_in,
)
from tests.fakes.google import FakeGoogle

BERLIN = ZoneInfo("Europe/Berlin")
SID = str(uuid.uuid4())


def utc(text: str) -> datetime:
    """An instant written in UTC (`2026-11-24 23:30`)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the bucketing ----------------------------------------------------------------------------


def reviewed_per_day(grades: list[Grade], last: date, zone: Any) -> dict[date, int]:
    """Grades per day of the week ending with `last`, bucketed in `zone`."""
    return {d.date: d.reviewed for d in by_day(in_week(grades, last, zone), last)}


def test_a_grade_late_in_the_utc_evening_counts_on_the_next_berlin_day() -> None:
    """23:30 UTC on the 24th is 00:30 on the 25th in Berlin: the 25th there, the 24th in UTC."""
    grades = [Grade(utc("2026-11-24 23:30"), "good", "Biology")]
    berlin = reviewed_per_day(grades, date(2026, 11, 25), BERLIN)
    in_utc = reviewed_per_day(grades, date(2026, 11, 25), UTC)
    assert (berlin[date(2026, 11, 24)], berlin[date(2026, 11, 25)]) == (0, 1)
    assert (in_utc[date(2026, 11, 24)], in_utc[date(2026, 11, 25)]) == (1, 0)


def test_grades_outside_the_local_week_are_left_out() -> None:
    """The first and last instants of the Berlin week count; one just outside either end not."""
    last = date(2026, 11, 25)
    start, end = (
        local_midnight(date(2026, 11, 19), BERLIN),
        local_midnight(date(2026, 11, 26), BERLIN),
    )
    grades = [
        Grade(start - timedelta(microseconds=1), "good", "Math"),
        Grade(start, "good", "Math"),
        Grade(end - timedelta(microseconds=1), "again", "Math"),
        Grade(end, "good", "Math"),
    ]
    week = weekly_recall(grades, last, BERLIN, cards_made=0, cards=0)
    assert (week.reviewed, week.recalled, week.share) == (2, 1, 0.5)
    assert [d.reviewed for d in week.days] == [1, 0, 0, 0, 0, 0, 1]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Santiago", "Asia/Kolkata", "UTC"])
def test_each_local_midnight_is_the_first_instant_of_its_day(zone: str) -> None:
    """Every day of 2026, clock changes included (Santiago skips its September midnight)."""
    tz = ZoneInfo(zone)
    wrong = []
    for n in range(365):
        day = date(2026, 1, 1) + timedelta(days=n)
        start = local_midnight(day, tz)
        before = (start - timedelta(microseconds=1)).astimezone(tz).date()
        if start.astimezone(tz).date() != day or before != day - timedelta(days=1):
            wrong.append(day)
    assert wrong == []


def test_a_week_across_the_spring_change_is_seven_local_days() -> None:
    """The Berlin week ending 2026-03-29 (clocks forward that night) is one hour short of 7 days."""
    grades = [
        Grade(utc("2026-03-29 21:59"), "good", None),
        Grade(utc("2026-03-29 22:00"), "good", None),
    ]
    week = weekly_recall(grades, date(2026, 3, 29), BERLIN, cards_made=0, cards=0)
    assert (week.from_date, week.to_date) == (date(2026, 3, 23), date(2026, 3, 29))
    assert [d.reviewed for d in week.days] == [0, 0, 0, 0, 0, 0, 1]
    span = local_midnight(date(2026, 3, 30), BERLIN) - local_midnight(date(2026, 3, 23), BERLIN)
    assert span == timedelta(days=7, hours=-1)


def test_topics_most_graded_first_and_cards_not_held_last() -> None:
    """Per topic: most grades first, ties by name, grades of cards the cloud lacks under null."""
    at = utc("2026-11-25 09:00")
    grades = [
        Grade(at, "again", None),
        Grade(at, "again", None),
        Grade(at, "good", "Math"),
        Grade(at, "again", "Math"),
        Grade(at, "easy", "Biology"),
        Grade(at, "hard", "Biology"),
        Grade(at, "good", "Art"),
    ]
    assert [(t.topic, t.reviewed, t.recalled, t.share) for t in by_topic(grades)] == [
        ("Biology", 2, 2, 1.0),
        ("Math", 2, 1, 0.5),
        (None, 2, 0, 0.0),
        ("Art", 1, 1, 1.0),
    ]


def test_a_week_without_grades_has_no_share() -> None:
    """Nothing graded: seven empty days, no topics, share null (not 0, not a division error)."""
    week = weekly_recall([], date(2026, 11, 25), BERLIN, cards_made=1, cards=4)
    assert (week.reviewed, week.recalled, week.share, week.topics) == (0, 0, None, [])
    assert [d.date for d in week.days] == [date(2026, 11, 19) + timedelta(days=n) for n in range(7)]
    assert (week.cards_made, week.cards, week.time_zone) == (1, 4, "Europe/Berlin")


# --- the route ----------------------------------------------------------------------------------


async def send(cloud: httpx.AsyncClient, headers: dict[str, str], items: list[Any]) -> None:
    """Sync a batch from an edge and require that every item is stored."""
    result = data_of(await cloud.post("/api/sync/batch", json={"items": items}, headers=headers))
    assert result["stored"] == len(items), result


def card(topic: str, made: str) -> dict[str, Any]:
    """A card of `topic` made at `made` (UTC)."""
    return card_item(SID, topic, utc(made))


async def studied(cloud: httpx.AsyncClient, google: FakeGoogle) -> dict[str, str]:
    """Ada's week on two edges; the headers of Ada.

    Desk: a Biology card made in the week (3 grades), a Chemistry card made at 23:30 UTC on the
    18th (the 19th in Berlin) and never graded, and a grade of a card never synced (22nd).
    Laptop: a Math card made on the 10th, graded at 23:30 UTC on the 18th and on the 19th.
    """
    ada = await sign_in(cloud, google)
    desk = bearer((await link_device(cloud, ada, "Desk Pi"))["accessToken"])
    laptop = bearer((await link_device(cloud, ada, "Laptop"))["accessToken"])
    biology, chemistry = card("Biology", "2026-11-20 10:00"), card("Chemistry", "2026-11-18 23:30")
    math = card("Math", "2026-11-10 10:00")
    await send(
        cloud,
        desk,
        [
            biology,
            chemistry,
            review_item(biology["id"], utc("2026-11-24 23:30"), "good"),
            review_item(biology["id"], utc("2026-11-25 08:00"), "again"),
            review_item(biology["id"], utc("2026-11-25 23:30"), "again"),
            review_item(str(uuid.uuid4()), utc("2026-11-22 12:00"), "good"),
        ],
    )
    await send(
        cloud,
        laptop,
        [
            math,
            review_item(math["id"], utc("2026-11-18 23:30"), "hard"),
            review_item(math["id"], utc("2026-11-19 10:00"), "easy"),
        ],
    )
    return bearer(ada["accessToken"])


def per_day(week: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Days with grades: (reviewed, recalled) by date."""
    return {d["date"]: (d["reviewed"], d["recalled"]) for d in week["days"] if d["reviewed"]}


async def test_the_week_in_berlin_counts_every_edge_by_local_day(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Per Berlin day, per topic (a card not synced under null), share, cards made and held."""
    me = await studied(cloud, google)
    week = data_of(
        await cloud.get("/api/review/weekly?date=2026-11-25&tz=Europe/Berlin", headers=me)
    )
    assert (week["fromDate"], week["toDate"], week["timeZone"]) == (
        "2026-11-19",
        "2026-11-25",
        "Europe/Berlin",
    )
    assert len(week["days"]) == 7
    assert per_day(week) == {"2026-11-19": (2, 2), "2026-11-22": (1, 1), "2026-11-25": (2, 1)}
    assert (week["reviewed"], week["recalled"], week["share"]) == (5, 4, 0.8)
    assert week["topics"] == [
        {"topic": "Biology", "reviewed": 2, "recalled": 1, "share": 0.5},
        {"topic": "Math", "reviewed": 2, "recalled": 2, "share": 1.0},
        {"topic": None, "reviewed": 1, "recalled": 1, "share": 1.0},
    ]
    assert (week["cardsMade"], week["cards"]) == (2, 3)


async def test_the_same_week_in_utc_buckets_otherwise(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """In UTC the 23:30 grades fall a day earlier: out of the week, or into it."""
    me = await studied(cloud, google)
    week = data_of(await cloud.get("/api/review/weekly?date=2026-11-25&tz=UTC", headers=me))
    assert per_day(week) == {
        "2026-11-19": (1, 1),
        "2026-11-22": (1, 1),
        "2026-11-24": (1, 1),
        "2026-11-25": (2, 0),
    }
    assert (week["reviewed"], week["recalled"], week["share"]) == (5, 3, 0.6)
    assert (week["cardsMade"], week["cards"]) == (1, 3)


async def test_the_first_and_last_instants_of_the_local_week_are_read(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Grades at Berlin midnight starting the week and a millisecond before the next count."""
    ada = await sign_in(cloud, google)
    edge = bearer((await link_device(cloud, ada))["accessToken"])
    own = card("Math", "2026-11-01 10:00")
    at = [
        "2026-11-18 22:59:59.999",
        "2026-11-18 23:00",
        "2026-11-25 22:59:59.999",
        "2026-11-25 23:00",
    ]
    await send(cloud, edge, [own, *(review_item(own["id"], utc(t)) for t in at)])
    path = "/api/review/weekly?date=2026-11-25&tz=Europe/Berlin"
    week = data_of(await cloud.get(path, headers=bearer(ada["accessToken"])))
    assert per_day(week) == {"2026-11-19": (1, 1), "2026-11-25": (1, 1)}


async def test_without_a_date_the_week_ends_today_in_the_zone(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """09:00 UTC on the 25th is still the 24th in Pago Pago (UTC-11); no zone: UTC."""
    me = await studied(cloud, google)
    samoa = data_of(await cloud.get("/api/review/weekly?tz=Pacific/Pago_Pago", headers=me))
    plain = data_of(await cloud.get("/api/review/weekly", headers=me))
    assert (samoa["toDate"], samoa["timeZone"]) == ("2026-11-24", "Pacific/Pago_Pago")
    assert (plain["toDate"], plain["timeZone"]) == ("2026-11-25", "UTC")


async def test_another_students_grades_are_not_counted(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Eve sees only her own card and grade; Ada's figures leave Eve's out."""
    ada = await studied(cloud, google)
    eve = await sign_in(cloud, google, "sub-eve", "eve@example.com")
    edge = bearer((await link_device(cloud, eve))["accessToken"])
    own = card("Art", "2026-11-24 10:00")
    await send(cloud, edge, [own, review_item(own["id"], utc("2026-11-24 11:00"), "again")])
    path = "/api/review/weekly?date=2026-11-25&tz=Europe/Berlin"
    theirs = data_of(await cloud.get(path, headers=bearer(eve["accessToken"])))
    mine = data_of(await cloud.get(path, headers=ada))
    assert (theirs["reviewed"], theirs["recalled"], theirs["cards"]) == (1, 0, 1)
    assert theirs["topics"] == [{"topic": "Art", "reviewed": 1, "recalled": 0, "share": 0.0}]
    assert (mine["reviewed"], mine["cards"]) == (5, 3)


async def test_a_student_with_nothing_synced_gets_an_empty_week(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """No cards, no grades: zeros and a null share."""
    me = bearer((await sign_in(cloud, google))["accessToken"])
    week = data_of(await cloud.get("/api/review/weekly?date=2026-11-25", headers=me))
    assert (week["reviewed"], week["share"], week["topics"], week["cards"]) == (0, None, [], 0)


@pytest.mark.parametrize(
    "query",
    [
        "date=2026-02-30",
        "date=yesterday",
        "date=1999-12-31",
        "date=2101-01-01",
        "tz=Mars/Olympus",
        "tz=America",  # a folder of the zone database, not a zone
        "tz=zone.tab",  # a file of it that is no zone
        "tz=../../etc/passwd",
        "tz=" + "A" * 65,
    ],
)
async def test_bad_dates_and_zones_are_400s(
    cloud: httpx.AsyncClient, google: FakeGoogle, query: str
) -> None:
    """Impossible or out-of-range dates and unknown zones: 400 invalid_request in the envelope."""
    me = bearer((await sign_in(cloud, google))["accessToken"])
    error = error_of(await cloud.get(f"/api/review/weekly?{query}", headers=me), 400)
    assert error["code"] == "invalid_request"


async def test_the_week_needs_a_students_token(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """No token: 401; an edge's sync token: 403 (it is for syncing only)."""
    edge = await link_device(cloud, await sign_in(cloud, google))
    assert error_of(await cloud.get("/api/review/weekly"), 401)["code"] == "unauthenticated"
    refused = await cloud.get("/api/review/weekly", headers=bearer(edge["accessToken"]))
    assert error_of(refused, 403)["code"] == "insufficient_scope"


async def test_the_route_is_described_in_openapi(cloud: httpx.AsyncClient) -> None:
    """The route, its two parameters and its failures are in the API's description."""
    schema = (await cloud.get("/openapi.json")).json()
    operation = schema["paths"]["/api/review/weekly"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"date", "tz"}
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    assert "local day" in operation["description"]


async def test_another_sites_page_is_not_allowed_to_read_the_week(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """With the student's cookie, a cross-site request is answered without any CORS grant.

    The browser then keeps the answer from the page; SameSite=Lax keeps the cookie off its
    fetches in the first place. A preflight for a bearer token from there is not granted either.
    """
    pair = await sign_in(cloud, google)
    cloud.cookies.set("studylens_access", pair["accessToken"])
    cross = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}

    answer = await cloud.get("/api/review/weekly?date=2026-11-25", headers=cross)
    preflight = await cloud.options(
        "/api/review/weekly",
        headers={
            **cross,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-headers" not in preflight.headers
