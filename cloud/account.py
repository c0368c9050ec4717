"""Deleting an account: every row of the user in every table, every object under its prefix.

The order is what makes a failed deletion safe to retry:

1. Unlink the user's edges (one transaction): their tokens die, so no new facts arrive and no
   new uploads are presigned while the rest runs.
2. Delete every object under `user_prefix(user_id)`. If the store fails here, the account and
   every row are still there, so the student's own token still authorises the retry, which
   lists the prefix again and deletes what is left. Deleting the rows first would leave objects
   that nobody could be authorised to remove any more (the tokens die with the rows).
3. Delete every user-keyed row in one transaction, children before parents, with the user's
   row locked first: a concurrent sign-in or link of the same user waits and then fails its
   foreign key, instead of making our `DELETE FROM users` fail on a row it added meanwhile.

After 3 the account is gone: its access tokens (even unexpired JWTs) fail authentication,
which looks up the refresh row and the user of every token. Left open: an upload through a URL
presigned before step 1 that lands after step 2 (at most `presign_ttl_seconds` later) leaves
an object under the dead prefix; a sweep of prefixes without a user would catch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import (
    ApprovalAttempts,
    Base,
    BookmarkRow,
    CardRow,
    DeviceCodeRow,
    DeviceRow,
    HelpRequest,
    Image,
    LearningEvent,
    RefreshToken,
    ReviewLogRow,
    StudySession,
    TopicSegment,
    User,
)
from cloud.errors import DeletionIncomplete, InvalidToken, StoreUnavailable
from cloud.images import ObjectStore, user_prefix
from shared.clock import Clock


def _column(model: type[Base], name: str) -> ColumnElement[Any]:
    column: ColumnElement[Any] = model.__table__.c[name]
    return column


#: The column naming the owner, of every table that holds anything of a user.
OWNER_COLUMNS: dict[str, ColumnElement[Any]] = {
    model.__tablename__: _column(model, name)
    for model, name in (
        (User, "id"),
        (DeviceRow, "user_id"),
        (DeviceCodeRow, "approved_by"),
        (ApprovalAttempts, "user_id"),
        (RefreshToken, "user_id"),
        (StudySession, "user_id"),
        (LearningEvent, "user_id"),
        (TopicSegment, "user_id"),
        (BookmarkRow, "user_id"),
        (HelpRequest, "user_id"),
        (CardRow, "user_id"),
        (ReviewLogRow, "user_id"),
        (Image, "user_id"),
    )
}
#: Tables that hold nothing of any user, and why (a test fails on a table in neither map).
NOT_USER_KEYED: dict[str, str] = {
    "rate_windows": "keyed by route and client address, never by account",
    "revoked_access_tokens": "a signed-out token's random `jti` and expiry; dropped at expiry",
}


@dataclass(frozen=True)
class DeletedAccount:
    """What an account deletion removed."""

    user_id: str
    #: Rows removed per table, every table of `OWNER_COLUMNS` named (0 included).
    rows: dict[str, int]
    #: Objects removed from under the user's prefix.
    objects: int


class Accounts:
    """Deletes accounts (the student's own `DELETE /api/me`)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], store: ObjectStore, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._clock = clock

    async def delete(self, user_id: str) -> DeletedAccount:
        """Delete the account; `DeletionIncomplete` if the object store failed (retry it)."""
        await self._unlink_devices(user_id)
        objects = await self._delete_objects(user_id)
        rows = await self._delete_rows(user_id)
        return DeletedAccount(user_id=user_id, rows=rows, objects=objects)

    async def _unlink_devices(self, user_id: str) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as db:
            await db.execute(
                update(DeviceRow)
                .where(DeviceRow.user_id == user_id, DeviceRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await db.execute(
                update(RefreshToken)
                .where(
                    RefreshToken.user_id == user_id,
                    RefreshToken.device_id.is_not(None),
                    RefreshToken.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )

    async def _delete_objects(self, user_id: str) -> int:
        try:
            keys = await self._store.keys(user_prefix(user_id))
            await self._store.delete(keys)
        except StoreUnavailable as exc:
            raise DeletionIncomplete(
                "The stored images could not be deleted, so the account was kept (its linked"
                " devices are already unlinked). Send DELETE /api/me again to finish."
            ) from exc
        return len(keys)

    async def _delete_rows(self, user_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self._sessions.begin() as db:
            locked = await db.scalar(select(User.id).where(User.id == user_id).with_for_update())
            if locked is None:
                # A concurrent deletion of the same account finished first.
                raise InvalidToken("The account of this token no longer exists.")
            # Children before parents, so no foreign key is ever left dangling.
            for table in reversed(Base.metadata.sorted_tables):
                owner = OWNER_COLUMNS.get(table.name)
                if owner is not None:
                    result = await db.execute(delete(table).where(owner == user_id))
                    counts[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
        return counts
