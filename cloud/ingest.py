"""Sync ingest: upsert a batch of edge facts by their ids, answering item by item.

An item is written when it is new or carries a higher revision than the stored copy, and only if
the stored copy belongs to the same user; so replaying a batch changes nothing, a late older copy
never overwrites a newer one, and nobody can overwrite another user's facts by guessing ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import FACT_TABLES, DeviceRow
from shared.clock import Clock
from shared.schemas import ErrorBody, FieldProblem
from shared.sync import (
    KINDS,
    SYNC_ITEM,
    Fact,
    ItemResult,
    SyncBatchResult,
    SyncItem,
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
        loc = err["loc"][1:] if err["loc"] and err["loc"][0] in KINDS else err["loc"]
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

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def batch(self, user_id: str, device_id: str, items: Sequence[Any]) -> SyncBatchResult:
        """Upsert `items` for `user_id` from `device_id`; one result per item, in order."""
        now = self._clock.now()
        valid, results = validate_items(items)
        kept, repeats = latest_per_id(valid)
        by_kind: dict[str, list[_Valid]] = {}
        for entry in kept:
            by_kind.setdefault(entry.item.kind, []).append(entry)
        async with self._sessions.begin() as db:
            for kind, entries in by_kind.items():
                results.update(await self._upsert(db, kind, entries, user_id, device_id, now))
            device = await db.get(DeviceRow, device_id)
            if device is not None:
                device.last_seen_at = now
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
