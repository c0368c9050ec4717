"""Sync ingest: upsert a batch of edge facts by their ids, answering item by item.

An item is written when it is new or carries a higher revision than the stored copy, and only if
the stored copy belongs to the same user; so replaying a batch changes nothing, a late older copy
never overwrites a newer one, and nobody can overwrite another user's facts by guessing ids.

A tombstone deletes the sender's own fact of that id (never another user's), or the sender's
original of that SHA-256 once no fact of theirs names it. The cloud keeps no trace of what was
forgotten, not even its id: the edge sends a fact's deletion only after its last copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import FACT_TABLES, DeviceRow, Image, LearningEvent
from cloud.errors import InvalidToken
from cloud.images import ObjectStore, image_key
from shared.clock import Clock
from shared.schemas import ErrorBody, FieldProblem
from shared.sync import (
    ITEM_KINDS,
    SYNC_ITEM,
    Fact,
    ItemResult,
    SyncBatchResult,
    SyncItem,
    TombstoneItem,
    TopicSegmentFact,
)


@dataclass(frozen=True)
class _Valid:
    index: int
    item: SyncItem

    @property
    def fact(self) -> Fact:
        return self.item.payload


def problems(exc: ValidationError) -> list[FieldProblem]:
    """Pydantic's complaints about one item as wire `FieldProblem`s."""
    found = []
    for err in exc.errors(include_url=False):
        # The union's tag ("session", ...) leads each location; the client knows its kind.
        loc = err["loc"][1:] if err["loc"] and err["loc"][0] in ITEM_KINDS else err["loc"]
        found.append(
            FieldProblem(field=".".join(str(p) for p in loc) or "(item)", problem=err["msg"])
        )
    return found


def _rejected(index: int, item_id: str | None, code: str, message: str, **kw: Any) -> ItemResult:
    return ItemResult(
        index=index,
        id=item_id,
        status="rejected",
        error=ErrorBody(code=code, message=message, **kw),
    )


def validate_items(items: Sequence[Any]) -> tuple[list[_Valid], dict[int, ItemResult]]:
    """Check each item alone; return the valid ones and the rejections by index."""
    valid: list[_Valid] = []
    rejected: dict[int, ItemResult] = {}
    for index, raw in enumerate(items):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        shown_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= 64 else None
        try:
            item = SYNC_ITEM.validate_python(raw)
        except ValidationError as exc:
            rejected[index] = _rejected(
                index, shown_id, "invalid_item", "This item is malformed.", details=problems(exc)
            )
            continue
        valid.append(_Valid(index, item))
    return valid, rejected


def latest_per_id(valid: list[_Valid]) -> tuple[list[_Valid], list[_Valid]]:
    """Split repeats of one id within a batch: the highest revision (last on a tie) is kept."""
    best: dict[tuple[str, str], _Valid] = {}
    for entry in valid:
        key = (entry.item.kind, entry.item.id)
        held = best.get(key)
        if held is None or entry.item.revision >= held.item.revision:
            best[key] = entry
    kept = list(best.values())
    kept_ids = {id(e) for e in kept}
    return kept, [e for e in valid if id(e) not in kept_ids]


def fact_row(entry: _Valid, user_id: str, device_id: str, now: datetime) -> dict[str, Any]:
    """The table row of one fact."""
    row = entry.fact.model_dump()
    if isinstance(entry.fact, TopicSegmentFact):
        row.pop("duration_seconds")
        row["seconds"] = entry.fact.seconds()
    row.update(
        id=entry.item.id,
        user_id=user_id,
        device_id=device_id,
        revision=entry.item.revision,
        received_at=now,
    )
    return row


class Ingest:
    """Writes sync batches; one transaction per batch."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, objects: ObjectStore
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._objects = objects

    async def batch(self, user_id: str, device_id: str, items: Sequence[Any]) -> SyncBatchResult:
        """Upsert `items` for `user_id` from `device_id`; one result per item, in order."""
        now = self._clock.now()
        valid, results = validate_items(items)
        kept, repeats = latest_per_id(valid)
        by_kind: dict[str, list[_Valid]] = {}
        tombstones: list[_Valid] = []
        for entry in kept:
            if isinstance(entry.item, TombstoneItem):
                tombstones.append(entry)
            else:
                by_kind.setdefault(entry.item.kind, []).append(entry)
        async with self._sessions.begin() as db:
            # Held to the commit: an account deletion (which unlinks the device first) waits
            # for this batch, or this batch sees the device unlinked and writes nothing.
            device = await db.scalar(
                select(DeviceRow).where(DeviceRow.id == device_id).with_for_update(read=True)
            )
            if device is None or device.revoked_at is not None:
                raise InvalidToken("This device was unlinked.")
            device.last_seen_at = now
            for kind, entries in by_kind.items():
                results.update(await self._upsert(db, kind, entries, user_id, device_id, now))
            deleted, objects = await self._delete(db, tombstones, user_id)
            results.update(deleted)
        # After the rows: if the store fails here, the batch fails and the edge sends the
        # tombstones again, which delete the objects then (their rows are gone already).
        if objects:
            await self._objects.delete(objects)
        for entry in repeats:
            results[entry.index] = ItemResult(
                index=entry.index, id=entry.item.id, status="unchanged"
            )
        ordered = [results[i] for i in range(len(items))]
        return SyncBatchResult(
            stored=sum(r.status == "stored" for r in ordered),
            unchanged=sum(r.status == "unchanged" for r in ordered),
            rejected=sum(r.status == "rejected" for r in ordered),
            results=ordered,
        )

    async def _upsert(
        self,
        db: AsyncSession,
        kind: str,
        entries: list[_Valid],
        user_id: str,
        device_id: str,
        now: datetime,
    ) -> dict[int, ItemResult]:
        table: Table = FACT_TABLES[kind].__table__  # type: ignore[attr-defined]
        rows = [fact_row(e, user_id, device_id, now) for e in entries]
        dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table)
        excluded = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={name: excluded[name] for name in rows[0] if name != "id"},
            where=(table.c.user_id == excluded.user_id) & (table.c.revision < excluded.revision),
        ).returning(table.c.id)
        # Rows as executemany parameters, not literal VALUES: the statement compiles once and is
        # cached, and SQLAlchemy still sends it as multi-row inserts ("insertmanyvalues").
        written = set((await db.execute(statement, rows)).scalars())
        others = [r["id"] for r in rows if r["id"] not in written]
        foreign: set[str] = set()
        if others:
            owners = await db.execute(
                select(table.c.id, table.c.user_id).where(table.c.id.in_(others))
            )
            foreign = {row["id"] for row in owners.mappings() if row["user_id"] != user_id}
        results: dict[int, ItemResult] = {}
        for entry in entries:
            item_id = entry.item.id
            if item_id in written:
                results[entry.index] = ItemResult(index=entry.index, id=item_id, status="stored")
            elif item_id in foreign:
                results[entry.index] = _rejected(
                    entry.index,
                    item_id,
                    "id_conflict",
                    "Another account holds a fact with this id.",
                )
            else:
                results[entry.index] = ItemResult(index=entry.index, id=item_id, status="unchanged")
        return results

    async def _delete(
        self, db: AsyncSession, tombstones: list[_Valid], user_id: str
    ) -> tuple[dict[int, ItemResult], list[str]]:
        """Apply deletions: facts first, then originals no remaining fact names.

        Answers `stored` for a deletion that removed something, `unchanged` otherwise; returns
        the object keys to delete once the rows are committed.
        """
        results: dict[int, ItemResult] = {}
        images = [e for e in tombstones if _tombstone(e).payload.fact_kind == "image"]
        for entry in tombstones:
            item = _tombstone(entry)
            if item.payload.fact_kind == "image":
                continue
            model = FACT_TABLES[item.payload.fact_kind]
            table: Table = model.__table__  # type: ignore[attr-defined]
            gone = await db.execute(
                delete(table)
                .where(
                    table.c.id == item.id,
                    table.c.user_id == user_id,
                    table.c.revision < item.revision,
                )
                .returning(table.c.id)
            )
            results[entry.index] = _answer(entry, stored=gone.first() is not None)
        keys = []
        for entry in images:
            sha256 = entry.item.id
            named = await db.scalar(
                select(LearningEvent.id)
                .where(LearningEvent.user_id == user_id, LearningEvent.image_sha256 == sha256)
                .limit(1)
            )
            if named is not None:  # another of the student's edges still has a frame of it
                results[entry.index] = _answer(entry, stored=False)
                continue
            gone = await db.execute(
                delete(Image).where(Image.user_id == user_id, Image.sha256 == sha256)
            )
            # The object may be there without its row (uploaded, never confirmed): delete it.
            keys.append(image_key(user_id, sha256))
            results[entry.index] = _answer(entry, stored=bool(gone.rowcount))  # type: ignore[attr-defined]
        return results, keys


def _tombstone(entry: _Valid) -> TombstoneItem:
    assert isinstance(entry.item, TombstoneItem)  # noqa: S101 - split by kind in `batch`
    return entry.item


def _answer(entry: _Valid, *, stored: bool) -> ItemResult:
    return ItemResult(
        index=entry.index, id=entry.item.id, status="stored" if stored else "unchanged"
    )
