"""Forget: delete sessions with everything recorded in them, here and (as tombstones) in the cloud.

The unit of forgetting is the session: its learning events, topic segments, bookmarks and help
requests go with it (its review cards and their grades too, by cascade: migration 0008), and so
do the originals no remaining frame shows and its voice recordings.
The rows go in one transaction; the outbox triggers (migration 0007) turn each deleted fact into
a tombstone the sync worker sends, and forget adds one per original the cloud holds. The files
are deleted inside that transaction, before it commits: if anything fails, what is left is rows
whose files are gone (the daemon copes with a missing original), never a forgotten fact whose
image stays on disk.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any, Self

import sqlite_utils
from pydantic import ConfigDict, Field, model_validator

from edge.errors import InvalidDate, SessionNotFound
from edge.frames.originals import OriginalStore
from edge.privacy.summary import StoredCounts
from edge.sessions.service import SessionService
from edge.settings import EdgeSettings
from edge.store import Store, transaction
from edge.store.tombstones import drop_unsent_tombstones
from edge.sync.build import original_store
from edge.sync.credentials import CredentialStore
from edge.sync.outbox import backlog
from edge.voice.recording import RECORDING_NAME, made_at
from shared.clock import Clock, from_iso, local_date, start_of_day
from shared.schemas import RequestModel, Timestamp
from shared.sync import Uuid

log = logging.getLogger(__name__)


class DateInFuture(InvalidDate):
    """`before` names a day after today: to forget today too, forget everything."""

    code = "date_in_future"


class ForgetScope(RequestModel):
    """What to forget: exactly one of `before`, `sessionId` or `all: true`."""

    # Unknown fields are refused here: a misspelt field must not widen a deletion.
    model_config = ConfigDict(extra="forbid")

    before: date | None = Field(
        None, description="every session that started before this day (the student's zone)"
    )
    session_id: Uuid | None = Field(None, description="one session, by its id")
    all: Annotated[bool, Field(strict=True)] = Field(False, description="every session")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        chosen = sum([self.before is not None, self.session_id is not None, self.all])
        if chosen != 1:
            raise ValueError("give exactly one of `before`, `sessionId` or `all: true`")
        return self

    def describe(self) -> str:
        """The scope in words, for a confirmation."""
        if self.all:
            return "everything"
        if self.before is not None:
            return f"everything before {self.before.isoformat()}"
        return f"session {self.session_id}"


class ForgetReport(StoredCounts):
    """What a forget deletes (`deleted` false: a preview) or deleted: the counts of its scope."""

    scope: ForgetScope
    deleted: bool
    bytes: int = Field(description="bytes of originals and recordings freed")
    oldest: Timestamp | None = Field(description="start of the earliest session it covers")
    newest: Timestamp | None = Field(description="start of the latest session it covers")


# --- the plan: pure reads on the store thread --------------------------------------------------


@dataclass(frozen=True)
class ForgetPlan:
    """The rows and files one scope covers, read in one transaction."""

    sessions: str  # a SELECT of the sessions' ids, with `params`
    params: list[Any]
    counts: dict[str, int]
    oldest: datetime | None
    newest: datetime | None
    originals: list[str]  # keys no remaining frame names
    recordings: list[Path]


def _sessions_sql(scope: ForgetScope) -> tuple[str, list[Any]]:
    if scope.all:
        return "SELECT id FROM sessions", []
    if scope.before is not None:
        return (
            "SELECT s.id FROM sessions s JOIN session_days d ON d.id = s.day_id"
            " WHERE d.local_date < ?",
            [scope.before.isoformat()],
        )
    return "SELECT id FROM sessions WHERE id = ?", [scope.session_id]


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[sqlite3.Row]:
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, params).fetchall()


def _count(db: sqlite_utils.Database, sql: str, params: list[Any]) -> int:
    return int(_rows(db, f"SELECT count(*) AS n FROM ({sql})", params)[0]["n"])


#: The tables forget deletes from, children first, with how each row names its session.
_CHILDREN = {
    "bookmarks": "session_id",
    "help_requests": "session_id",
    "topic_segments": "session_id",
    "learning_events": "session_id",
}


def plan_forget(
    db: sqlite_utils.Database,
    scope: ForgetScope,
    *,
    today: date,
    zone: tzinfo,
    recordings: Path,
) -> ForgetPlan:
    """What `scope` covers; `DateInFuture` or `SessionNotFound` for a scope that cannot be."""
    if scope.before is not None and scope.before > today:
        raise DateInFuture(
            f"`before` {scope.before.isoformat()} is after today ({today.isoformat()}); "
            "to forget today as well, forget everything."
        )
    sql, params = _sessions_sql(scope)
    span = _rows(
        db,
        f"SELECT count(*) AS n, min(started_at) AS oldest, max(started_at) AS newest"
        f" FROM sessions WHERE id IN ({sql})",
        params,
    )[0]
    if scope.session_id is not None and span["n"] == 0:
        raise SessionNotFound(scope.session_id)
    counts = {"sessions": int(span["n"])}
    for table, column in _CHILDREN.items():
        counts[table] = _count(db, f"SELECT 1 FROM {table} WHERE {column} IN ({sql})", params)
    # A card goes by cascade with its session or with its page, whichever is forgotten.
    cards = (
        f"SELECT id FROM cards WHERE session_id IN ({sql}) OR learning_event_id IN"
        f" (SELECT id FROM learning_events WHERE session_id IN ({sql}))"
    )
    counts["cards"] = _count(db, cards, params * 2)
    counts["review_logs"] = _count(
        db, f"SELECT id FROM review_logs WHERE card_id IN ({cards})", params * 2
    )
    originals = [
        row["image_key"]
        for row in _rows(
            db,
            f"""SELECT DISTINCT image_key FROM learning_events
                WHERE session_id IN ({sql}) AND image_key IS NOT NULL
                AND image_key NOT IN (SELECT image_key FROM learning_events
                    WHERE session_id NOT IN ({sql}) AND image_key IS NOT NULL)
                ORDER BY image_key""",
            params + params,
        )
    ]
    ids = {row["id"] for row in _rows(db, sql, params)}
    cutoff = start_of_day(scope.before, zone) if scope.before is not None else None
    return ForgetPlan(
        sessions=sql,
        params=params,
        counts=counts,
        oldest=_when(span["oldest"]),
        newest=_when(span["newest"]),
        originals=originals,
        recordings=recordings_covered(recordings, ids, every=scope.all, made_before=cutoff),
    )


def _when(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


def recordings_covered(
    folder: Path, session_ids: set[str], *, every: bool, made_before: datetime | None
) -> list[Path]:
    """The recordings of these sessions; all of them (`every`), or also those made before."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not RECORDING_NAME.fullmatch(path.name):
            continue
        stamp = made_at(path.name)
        old = made_before is not None and stamp is not None and stamp < made_before
        if every or old or path.name[:36] in session_ids:
            found.append(path)
    return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def report(
    scope: ForgetScope, plan: ForgetPlan, originals: OriginalStore, *, deleted: bool
) -> ForgetReport:
    """The report of a plan: counts, and the bytes of its files still on disk."""
    files = [originals.path_for(key) for key in plan.originals] + plan.recordings
    on_disk = [path for path in files if path.is_file()]
    return ForgetReport(
        scope=scope,
        deleted=deleted,
        sessions=plan.counts["sessions"],
        learning_events=plan.counts["learning_events"],
        topic_segments=plan.counts["topic_segments"],
        bookmarks=plan.counts["bookmarks"],
        help_requests=plan.counts["help_requests"],
        cards=plan.counts["cards"],
        review_logs=plan.counts["review_logs"],
        originals=sum(originals.path_for(key).is_file() for key in plan.originals),
        recordings=len(plan.recordings),
        bytes=sum(_size(path) for path in on_disk),
        oldest=plan.oldest,
        newest=plan.newest,
    )


def carry_out(
    db: sqlite_utils.Database,
    plan: ForgetPlan,
    originals: OriginalStore,
    *,
    linked: bool,
) -> None:
    """Delete what `plan` covers, in one transaction; files before the commit.

    When the edge is not linked, a fact the cloud never received needs no tombstone.
    """
    sql, params = plan.sessions, plan.params
    with transaction(db):
        uploaded = {
            key
            for key in plan.originals
            if db.execute(
                "SELECT 1 FROM sync_images WHERE image_key = ? AND uploaded_at IS NOT NULL", [key]
            ).fetchone()
        }
        # A bookmark of a kept session may point at a frame of a forgotten one.
        db.execute(
            f"""UPDATE bookmarks SET learning_event_id = NULL
                WHERE session_id NOT IN ({sql}) AND learning_event_id IN
                    (SELECT id FROM learning_events WHERE session_id IN ({sql}))""",
            params + params,
        )
        for table, column in _CHILDREN.items():
            db.execute(f"DELETE FROM {table} WHERE {column} IN ({sql})", params)
        db.execute(f"DELETE FROM sessions WHERE id IN ({sql})", params)
        db.execute("DELETE FROM session_days WHERE id NOT IN (SELECT day_id FROM sessions)")
        for key in plan.originals:
            db.execute("DELETE FROM sync_images WHERE image_key = ?", [key])
            if key in uploaded:
                _bury_image(db, key.split(".")[0])
        if not linked:
            drop_unsent_tombstones(db)
        for key in plan.originals:
            originals.path_for(key).unlink(missing_ok=True)
        for path in plan.recordings:
            path.unlink(missing_ok=True)


def _bury_image(db: sqlite_utils.Database, sha256: str) -> None:
    """A tombstone for an original the cloud holds (kind `image`, keyed by its SHA-256)."""
    db.execute(
        """INSERT INTO sync_outbox (kind, fact_id, deleted_at)
           VALUES ('image', ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
           ON CONFLICT (kind, fact_id) DO UPDATE SET revision = revision + 1,
               rejected_code = NULL, deleted_at = excluded.deleted_at""",
        [sha256],
    )


# --- the service: the daemon's route and the CLI ------------------------------------------------


class ForgetService:
    """Previews and carries out forgets on the store; the running sessions are told first."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        zone: tzinfo,
        *,
        originals: OriginalStore,
        recordings: Path,
        linked: Callable[[], bool],
        sessions: SessionService | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone
        self._originals = originals
        self._recordings = recordings
        self._linked = linked
        self._sessions = sessions

    @classmethod
    def configured(
        cls,
        settings: EdgeSettings,
        store: Store,
        clock: Clock,
        *,
        credentials: CredentialStore,
        sessions: SessionService | None = None,
    ) -> ForgetService:
        """The service as the daemon and the CLI both build it."""
        return cls(
            store,
            clock,
            settings.zone,
            originals=original_store(settings),
            recordings=settings.recordings_path,
            linked=lambda: credentials.load() is not None,
            sessions=sessions,
        )

    def _plan(self, db: sqlite_utils.Database, scope: ForgetScope) -> ForgetPlan:
        return plan_forget(
            db,
            scope,
            today=local_date(self._clock.now(), self._zone),
            zone=self._zone,
            recordings=self._recordings,
        )

    async def preview(self, scope: ForgetScope) -> ForgetReport:
        """What `scope` would delete; nothing is deleted."""

        def read(db: sqlite_utils.Database) -> ForgetReport:
            with transaction(db):  # one moment: the counts agree with each other
                plan = self._plan(db, scope)
            return report(scope, plan, self._originals, deleted=False)

        return await self._store.run(read)

    async def pending_deletions(self) -> int:
        """Tombstones the cloud has not acknowledged yet."""
        return (await self._store.run(backlog)).deletions

    async def forget(self, scope: ForgetScope) -> ForgetReport:
        """Delete what `scope` covers; a running session among it stops running first."""
        linked = await asyncio.to_thread(self._linked)  # reads the credentials file

        def plan_only(db: sqlite_utils.Database) -> set[str]:
            plan = self._plan(db, scope)
            return {row["id"] for row in _rows(db, plan.sessions, plan.params)}

        if self._sessions is not None:
            # Out of memory before the rows go: a frame counted after this is refused.
            self._sessions.discard(await self._store.run(plan_only))

        def write(db: sqlite_utils.Database) -> ForgetReport:
            plan = self._plan(db, scope)
            done = report(scope, plan, self._originals, deleted=True)
            carry_out(db, plan, self._originals, linked=linked)
            return done

        done = await self._store.run(write)
        log.info(
            "forgot %s: %d session(s), %d frame(s), %d card(s), %d original(s), %d recording(s)",
            scope.describe(),
            done.sessions,
            done.learning_events,
            done.cards,
            done.originals,
            done.recordings,
        )
        return done
