"""Explicit write transactions on an autocommit connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run the body as one write transaction: all of it commits, or none of it.

    Relies on sqlite-utils 4 leaving transactions to the caller (3.x committed inside inserts).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
