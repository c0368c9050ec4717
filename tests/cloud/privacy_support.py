"""Helpers for the account deletion and export tests: a student with data in every table.

Everything goes through the API as an edge sends it (sign-in, link, sync, presigned upload),
so the rows are those production makes; `database_rows` reads them back from the database.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from cloud.db.models import Base
from tests.cloud.support import (
    bearer,
    card_item,
    data_of,
    event_item,
    link_device,
    review_item,
    segment_item,
    sign_in,
)
from tests.cloud.support import session_item as make_session
from tests.fakes.google import FakeGoogle
from tests.fakes.images import encode, jpeg, scene


@dataclass
class Student:
    """A signed-in student with a linked edge and what it synced."""

    user_id: str
    user: dict[str, Any]
    device: dict[str, Any]
    #: Sync items sent, by kind.
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Uploaded originals: SHA-256 to (content type, bytes).
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def me(self) -> dict[str, str]:
        """The student's own Authorization header."""
        return bearer(self.user["accessToken"])

    @property
    def edge(self) -> dict[str, str]:
        """The linked edge's Authorization header."""
        return bearer(self.device["accessToken"])


def image_ref(data: bytes, content_type: str) -> dict[str, Any]:
    """The presign item for these bytes."""
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "contentType": content_type,
        "size": len(data),
    }


async def upload_image(cloud: httpx.AsyncClient, student: Student, data: bytes, kind: str) -> str:
    """Presign, upload (to the app's folder or the S3 server), confirm; the SHA-256."""
    ref = image_ref(data, kind)
    presigned = data_of(
        await cloud.post("/api/sync/images/presign", json={"items": [ref]}, headers=student.edge)
    )
    for target in presigned["uploads"]:
        if target["url"].startswith("http://testserver/"):
            put = await cloud.put(target["url"], content=data, headers=target["headers"])
        else:
            async with httpx.AsyncClient() as outside:
                put = await outside.put(target["url"], content=data, headers=target["headers"])
        assert put.status_code == 200, put.text
    confirmed = data_of(
        await cloud.post("/api/sync/images/presign", json={"items": [ref]}, headers=student.edge)
    )
    assert ref["sha256"] in confirmed["stored"]
    student.images[ref["sha256"]] = (kind, data)
    return str(ref["sha256"])


def facts(start: datetime, image_sha256: str | None, seed: int) -> dict[str, list[dict[str, Any]]]:
    """One fact of every kind (two events), for one session starting at `start`."""
    session = make_session(start, endedAt=(start + timedelta(minutes=30)).isoformat())
    sid = session["id"]
    event = event_item(sid, "biology", start + timedelta(minutes=1))
    event["payload"]["imageSha256"] = image_sha256
    event["payload"]["extractedText"] = f"mitosis {seed}"
    failed = event_item(sid, "biology", start + timedelta(minutes=2))
    failed["payload"] |= {"outcome": "failed", "errorCode": "model_timeout", "topic": None}
    when = (start + timedelta(minutes=3)).isoformat()
    card = card_item(sid, "biology", start + timedelta(minutes=4), learningEventId=event["id"])
    grade = review_item(card["id"], start + timedelta(minutes=5), "again")
    return {
        "session": [session],
        "learning_event": [event, failed],
        "topic_segment": [segment_item(sid, "biology", start, 600.0)],
        "bookmark": [
            {
                "id": str(uuid.uuid4()),
                "kind": "bookmark",
                "payload": {
                    "sessionId": sid,
                    "learningEventId": event["id"],
                    "note": "look",
                    "createdAt": when,
                },
            }
        ],
        "help_request": [
            {
                "id": str(uuid.uuid4()),
                "kind": "help_request",
                "payload": {"sessionId": sid, "localDate": "2026-11-25", "createdAt": when},
            }
        ],
        "card": [card],
        "review_log": [grade],
    }


async def seeded_student(
    cloud: httpx.AsyncClient, google: FakeGoogle, who: str, start: datetime, seed: int = 0
) -> Student:
    """A student with rows in every user-keyed table and two originals (a JPEG and a PNG)."""
    user = await sign_in(cloud, google, f"sub-{who}", f"{who}@example.com")
    device = await link_device(cloud, user, name=f"{who}'s desk")
    student = Student(user_id=user["userId"], user=user, device=device)
    # A wrong user code: the student's row in approval_attempts.
    wrong = await cloud.post(
        "/api/devices/approve", json={"userCode": "BCDF-GHJK"}, headers=student.me
    )
    assert wrong.status_code in (404, 400), wrong.text
    photo = await upload_image(cloud, student, jpeg(64, 48, seed=seed), "image/jpeg")
    await upload_image(cloud, student, encode(scene(32, 24, seed=seed + 1), "PNG"), "image/png")
    student.items = facts(start, photo, seed)
    batch = [item for items in student.items.values() for item in items]
    result = data_of(
        await cloud.post("/api/sync/batch", json={"items": batch}, headers=student.edge)
    )
    assert result["stored"] == len(batch), result
    return student


def user_columns() -> list[tuple[str, str]]:
    """(table, column) of every column of the models that names a user, and `users.id`.

    A column names a user when it is called `user_id` or `approved_by`, or is a key into `users`.
    """
    found = [("users", "id")]
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            names_user = column.name in ("user_id", "approved_by") or any(
                key.column.table.name == "users" for key in column.foreign_keys
            )
            if names_user:
                found.append((table.name, column.name))
    return found


async def database_rows(database_url: str, user_id: str) -> dict[str, int]:
    """Rows naming `user_id` per `table.column`, read from the database itself.

    On PostgreSQL the columns come from the catalogue, so a table made by a migration but
    missing from the models is counted too.
    """
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as db:
            columns = set(user_columns())
            if engine.dialect.name == "postgresql":
                catalogue = await db.execute(
                    text(
                        "SELECT table_name, column_name FROM information_schema.columns"
                        " WHERE table_schema = current_schema()"
                        " AND column_name IN ('user_id', 'approved_by')"
                    )
                )
                columns |= {(row["table_name"], row["column_name"]) for row in catalogue.mappings()}
            counts = {}
            for table, column in sorted(columns):
                found = await db.scalar(
                    select(func.count())
                    .select_from(text(f'"{table}"'))
                    .where(text(f'"{column}" = :user').bindparams(user=user_id))
                )
                counts[f"{table}.{column}"] = int(found or 0)
            return counts
    finally:
        await engine.dispose()
