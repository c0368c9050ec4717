"""Bounds on every synced number and time: an out-of-range item is rejected alone, with its reason.

The tables name, per kind, each numeric and time field of `shared/sync.py` with values no edge can
record; every one must be rejected while a valid item in the same batch is stored.
"""

from __future__ import annotations

import copy
import math
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from cloud.db.engine import make_engine, make_sessions
from cloud.db.models import TopicSegment
from tests.cloud.support import bearer, data_of, link_device, sign_in
from tests.fakes.google import FakeGoogle
from tests.support import FakeClock

SID = "0b0e4a57-1f0c-4a43-9b53-5b4a0a8f2c11"
START = "2026-11-25T09:00:00.000Z"
LATER = "2026-11-25T09:10:00.000Z"
NEXT_DAY = "2026-11-26T12:00:00.000Z"
CARD = "5d1c7e0a-6f7b-4c2e-8a3d-2f9e1b4c6a70"

#: One valid payload per kind; each bad case changes one field of it.
VALID: dict[str, dict[str, Any]] = {
    "session": {
        "localDate": "2026-11-25",
        "startedAt": START,
        "lastActivityAt": LATER,
        "endedAt": LATER,
        "endReason": "ended",
    },
    "learning_event": {
        "sessionId": SID,
        "localDate": "2026-11-25",
        "capturedAt": START,
        "outcome": "analysed",
        "topic": "Biology",
    },
    "topic_segment": {
        "sessionId": SID,
        "topic": "Biology",
        "localDate": "2026-11-25",
        "startedAt": START,
        "lastSeenAt": LATER,
        "endedAt": LATER,
        "durationSeconds": 600,
        "activeCount": 3,
        "passiveCount": 1,
        "distractedCount": 0,
    },
    "bookmark": {"sessionId": SID, "note": "mitosis", "createdAt": START},
    "help_request": {"sessionId": SID, "localDate": "2026-11-25", "createdAt": START},
    # A card after its first grade, so that every schedule field is there to break.
    "card": {
        "sessionId": SID,
        "topic": "Biology",
        "kind": "cloze",
        "question": "Mitosis makes two ___ cells.",
        "answer": "identical",
        "maker": "on-device",
        "createdAt": START,
        "state": "learning",
        "step": 1,
        "stability": 2.5,
        "difficulty": 5.0,
        "due": NEXT_DAY,
        "lastReview": LATER,
    },
    "review_log": {
        "cardId": CARD,
        "rating": "hard",
        "reviewedAt": LATER,
        "reviewDurationMs": 4200,
        "state": "review",
        "stability": 2.5,
        "difficulty": 5.0,
        "due": NEXT_DAY,
        "lastReview": LATER,
    },
}
TIME_FIELDS = {
    "session": ["startedAt", "lastActivityAt", "endedAt"],
    "learning_event": ["capturedAt"],
    "topic_segment": ["startedAt", "lastSeenAt", "endedAt"],
    "bookmark": ["createdAt"],
    "help_request": ["createdAt"],
    "card": ["createdAt", "due", "lastReview"],
    "review_log": ["reviewedAt", "due", "lastReview"],
}
BAD_INSTANTS = ["9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z"]
BAD_DATES = ["1970-01-01", "2200-01-01", "9999-12-31"]
BAD_INTS: list[Any] = [-1, 2**63, 2**62 + 1, 1.5, 3.0, True, "3"]
BAD_COUNTS: list[Any] = [-1, 2**63, 2**62, 1.5, 3.0, True, "3"]
BAD_SECONDS: list[Any] = [-1, 2**63, 2**62, 25 * 3600 + 1]
#: Not a probability, or not a number: text and booleans are not read as one.
BAD_CONFIDENCES: list[Any] = [-0.01, 1.01, 2, "0.5", "NaN", True]


def item(kind: str, /, **changes: Any) -> dict[str, Any]:
    """A valid item of `kind` with `changes` applied to its payload (None deletes a field)."""
    payload = copy.deepcopy(VALID[kind])
    for name, value in changes.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return {"id": str(uuid.uuid4()), "kind": kind, "revision": 1, "payload": payload}


def case(kind: str, field: str, value: Any, **more: Any) -> tuple[str, dict[str, Any], str]:
    """A bad item and the field its rejection must name."""
    return kind, item(kind, **{field: value}, **more), f"payload.{field}"


def revision_case(kind: str, value: Any) -> tuple[str, dict[str, Any], str]:
    """A valid payload with a bad revision."""
    return kind, item(kind) | {"revision": value}, "revision"


#: A segment whose span is longer than a day, and one whose duration is longer than its span.
ORDER_CASES = {
    "session-lastActivityAt-before-startedAt": (
        "session",
        item("session", lastActivityAt="2026-11-25T08:00:00Z"),
        "payload",
    ),
    "session-endedAt-before-startedAt": (
        "session",
        item("session", endedAt="2026-11-25T08:00:00Z"),
        "payload",
    ),
    "segment-lastSeenAt-before-startedAt": (
        "topic_segment",
        item("topic_segment", lastSeenAt="2026-11-25T08:00:00Z"),
        "payload",
    ),
    "segment-endedAt-before-lastSeenAt": (
        "topic_segment",
        item("topic_segment", endedAt="2026-11-25T09:05:00Z"),
        "payload",
    ),
    "segment-duration-past-its-span": (
        "topic_segment",
        item("topic_segment", durationSeconds=601.5),
        "payload",
    ),
    "segment-longer-than-a-day": (
        "topic_segment",
        item("topic_segment", lastSeenAt=NEXT_DAY, endedAt=NEXT_DAY, durationSeconds=600),
        "payload",
    ),
    "card-in-review-with-a-step": ("card", item("card", state="review"), "payload"),
    "card-learning-without-a-step": ("card", item("card", step=None), "payload"),
    "card-stability-without-difficulty": ("card", item("card", difficulty=None), "payload"),
    "card-difficulty-without-stability": ("card", item("card", stability=None), "payload"),
    "card-due-before-lastReview": ("card", item("card", due=START), "payload"),
    "review_log-due-before-lastReview": ("review_log", item("review_log", due=START), "payload"),
    "review_log-relearning-without-a-step": (
        "review_log",
        item("review_log", state="relearning"),
        "payload",
    ),
}
#: Names the FSRS package knows but the wire does not (`new` was its state before v5), numbers
#: for names, and text of the wrong size or kind.
BAD_STATES: list[Any] = ["new", "Review", 2, None]
BAD_RATINGS: list[Any] = ["perfect", "Good", 3, "", None]
BAD_CARD_KINDS: list[Any] = ["essay", "QA", 1]
BAD_TEXTS: list[Any] = ["", "x" * 1001, 42]
BAD_STEPS: list[Any] = [-1, 101, 1.5, "1", True]
BAD_STABILITIES: list[Any] = [0, -1.0, 1e6 + 1, "NaN", "Infinity"]
BAD_DIFFICULTIES: list[Any] = [0.99, 10.01, "NaN"]
BAD_REVIEW_MS: list[Any] = [-1, 3_600_001, 1.5, "4200"]
MEMORY_CASES: list[tuple[str, dict[str, Any], str]] = [
    *(case(kind, "state", value) for kind in ("card", "review_log") for value in BAD_STATES),
    *(case("review_log", "rating", value) for value in BAD_RATINGS),
    *(case("card", "kind", value) for value in BAD_CARD_KINDS),
    *(case("card", field, value) for field in ("question", "answer") for value in BAD_TEXTS),
    *(case("card", "step", value) for value in BAD_STEPS),
    *(
        case(kind, "stability", value)
        for kind in ("card", "review_log")
        for value in BAD_STABILITIES
    ),
    *(case("card", "difficulty", value) for value in BAD_DIFFICULTIES),
    *(case("review_log", "reviewDurationMs", value) for value in BAD_REVIEW_MS),
    *(case("card", field, None) for field in ("sessionId", "topic", "question", "due")),
    *(case("review_log", field, None) for field in ("cardId", "rating", "reviewedAt")),
    case("card", "topic", "x" * 65),
    case("review_log", "cardId", "not-a-uuid"),
]

CASES: list[tuple[str, dict[str, Any], str]] = [
    *(revision_case(kind, value) for kind in VALID for value in BAD_INTS),
    *(
        case(kind, field, value)
        for kind, fields in TIME_FIELDS.items()
        for field in fields
        for value in BAD_INSTANTS
    ),
    *(
        case(kind, "localDate", value)
        for kind in VALID
        if "localDate" in VALID[kind]
        for value in BAD_DATES
    ),
    *(
        case("topic_segment", field, value)
        for field in ("activeCount", "passiveCount", "distractedCount")
        for value in BAD_COUNTS
    ),
    *(case("topic_segment", "durationSeconds", value) for value in BAD_SECONDS),
    *(case("learning_event", "confidence", value) for value in BAD_CONFIDENCES),
    *ORDER_CASES.values(),
    *MEMORY_CASES,
]


def case_id(kind: str, bad: dict[str, Any], field: str) -> str:
    """A readable test id: kind, field and the bad value (or the broken rule)."""
    for name, known in ORDER_CASES.items():
        if known[1] is bad:
            return name
    value = bad["revision"] if field == "revision" else bad["payload"].get(field.split(".")[-1])
    shown = f"<{len(value)} chars>" if isinstance(value, str) and len(value) > 40 else repr(value)
    return f"{kind}-{field}-{shown}"


async def linked_edge(cloud: httpx.AsyncClient, google: FakeGoogle) -> dict[str, Any]:
    """Sign in and link an edge; return the user's and the edge's headers."""
    user = await sign_in(cloud, google)
    device = await link_device(cloud, user)
    return {"user": bearer(user["accessToken"]), "edge": bearer(device["accessToken"])}


def results_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The per-item results of a batch answer."""
    results: list[dict[str, Any]] = data_of(response)["results"]
    return results


@pytest.mark.parametrize(
    ("kind", "bad", "field"), [pytest.param(*c, id=case_id(*c)) for c in CASES]
)
def test_out_of_range_value_is_rejected_with_its_field(
    kind: str, bad: dict[str, Any], field: str
) -> None:
    """Each out-of-range value is rejected as invalid_item, naming the field at fault."""
    from cloud.ingest import validate_items

    valid, rejected = validate_items([item(kind), bad])
    assert [v.index for v in valid] == [0]
    error = rejected[1].error
    assert error is not None
    assert error.code == "invalid_item"
    assert error.details is not None
    assert field in [d.field for d in error.details], error.details


def test_every_valid_payload_is_accepted() -> None:
    """The tables' valid payloads are valid, so each rejection is the bad value's doing."""
    from cloud.ingest import validate_items

    valid, rejected = validate_items([item(kind) for kind in VALID])
    assert (len(valid), rejected) == (len(VALID), {})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=repr)
def test_a_confidence_that_is_not_finite_is_rejected(value: float) -> None:
    """NaN and infinities (which JSON cannot carry, but a parser may) are no confidence."""
    from cloud.ingest import validate_items

    valid, rejected = validate_items([item("learning_event", confidence=value)])
    assert valid == []
    error = rejected[0].error
    assert error is not None
    assert error.details is not None
    assert "payload.confidence" in [d.field for d in error.details]


@pytest.mark.parametrize("kind", ["card", "review_log"])
@pytest.mark.parametrize("field", ["stability", "difficulty"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=repr)
def test_a_schedule_that_is_not_finite_is_rejected(kind: str, field: str, value: float) -> None:
    """NaN and infinities are no stability or difficulty (PostgreSQL would order NaN last)."""
    from cloud.ingest import validate_items

    valid, rejected = validate_items([item(kind, **{field: value})])
    assert valid == []
    error = rejected[0].error
    assert error is not None
    assert error.details is not None
    assert f"payload.{field}" in [d.field for d in error.details]


@pytest.mark.parametrize("kind", list(VALID))
async def test_a_batch_stores_the_valid_item_beside_every_bad_one(
    cloud: httpx.AsyncClient, google: FakeGoogle, kind: str
) -> None:
    """Over HTTP, every bad item of a kind is rejected alone and the valid one is stored."""
    edge = await linked_edge(cloud, google)
    bad = [c[1] for c in CASES if c[0] == kind]
    response = await cloud.post(
        "/api/sync/batch", json={"items": [item(kind), *bad]}, headers=edge["edge"]
    )
    statuses = [r["status"] for r in results_of(response)]
    assert statuses == ["stored"] + ["rejected"] * len(bad)


async def test_stored_duration_never_exceeds_the_segments_span(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A duration a little longer than start to end (rounding) counts only start to end."""
    edge = await linked_edge(cloud, google)
    within_slack = item("topic_segment", durationSeconds=600.9)
    batch = {"items": [within_slack]}
    data_of(await cloud.post("/api/sync/batch", json=batch, headers=edge["edge"]))
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["user"]))
    assert day["totalSeconds"] == 600


async def test_analytics_answer_over_out_of_range_rows_already_stored(
    cloud: httpx.AsyncClient, google: FakeGoogle, cloud_database_url: str, clock: FakeClock
) -> None:
    """Rows stored before the bounds (huge counts and seconds) are clamped, never a 500."""
    edge = await linked_edge(cloud, google)
    me = data_of(await cloud.get("/api/devices", headers=edge["user"]))["devices"][0]
    sqlite = cloud_database_url.startswith("sqlite")
    huge = 2**62 if sqlite else 2**31 - 1  # PostgreSQL's INTEGER holds no more
    rows = [
        {
            "id": str(uuid.uuid4()),
            "user_id": me["userId"],
            "device_id": me["deviceId"],
            "revision": 1,
            "received_at": clock.now(),
            "session_id": SID,
            "topic": "Biology",
            "local_date": date(2026, 11, 25),
            "started_at": clock.now(),
            "last_seen_at": clock.now(),
            "ended_at": clock.now(),
            "seconds": 1e308,
            "active_count": huge,
            "passive_count": huge,
            "distracted_count": huge,
        }
        for _ in range(2)
    ]
    engine = make_engine(cloud_database_url)
    try:
        async with make_sessions(engine).begin() as db:
            await db.execute(insert(TopicSegment), rows)
    finally:
        await engine.dispose()
    for path in ("/api/topic/daily?date=2026-11-25", "/api/topic/weekly?date=2026-11-25"):
        data_of(await cloud.get(path, headers=edge["user"]))
    day = data_of(await cloud.get("/api/topic/daily?date=2026-11-25", headers=edge["user"]))
    assert day["totalSeconds"] == 2 * 25 * 3600
