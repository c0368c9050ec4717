"""Tombstones: the outbox rows deleted facts leave behind (migration 0007's triggers make them)."""

from __future__ import annotations

import sqlite_utils


def drop_unsent_tombstones(db: sqlite_utils.Database) -> None:
    """Forget the deletions of facts the cloud never received: an unlinked edge needs none.

    Only for an edge that is not linked: a linked one may have a revision in flight. An
    original's tombstone stays (kind `image`: forget makes it only once the cloud has the bytes).
    """
    db.execute(
        "DELETE FROM sync_outbox WHERE deleted_at IS NOT NULL AND delivered_revision = 0"
        " AND kind != 'image'"
    )
