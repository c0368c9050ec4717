"""The SQLite store: pragmas, migrations, the view, and the store thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils

from edge.errors import StoreError
from edge.store import Store, open_database, transaction
from edge.store.migrations import MIGRATIONS, SchemaTooNew, migrate


def test_database_runs_in_wal_mode(tmp_path: Path) -> None:
    """WAL lets the CLI read while the daemon writes."""
    db = open_database(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    """A session on a day that does not exist is refused."""
    db = open_database(tmp_path / "a.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO sessions (id, day_id, started_at, last_activity_at) VALUES (?, ?, ?, ?)",
            ["s", "no-such-day", "2026-11-25T09:00:00.000Z", "2026-11-25T09:00:00.000Z"],
        )


def test_migrations_are_recorded_in_order(tmp_path: Path) -> None:
    """Every migration is applied once and recorded by name."""
    db = open_database(tmp_path / "a.db")
    names = [row["name"] for row in db.query("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_migrating_again_applies_nothing(tmp_path: Path) -> None:
    """Opening an up-to-date database changes nothing."""
    db = open_database(tmp_path / "a.db")
    assert migrate(db) == []
    assert db.table("users").count == 1


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """An unknown recorded migration means a newer StudyLens made the file."""
    db = open_database(tmp_path / "a.db")
    db.execute("INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future')")
    with pytest.raises(SchemaTooNew, match="9999_from_the_future"):
        migrate(db)


def test_schema_has_the_data_model(tmp_path: Path) -> None:
    """Every table of the data model exists, and daily stats are a view."""
    db = open_database(tmp_path / "a.db")
    assert {
        "users",
        "session_days",
        "sessions",
        "learning_events",
        "topics",
        "subtopics",
        "topic_segments",
        "bookmarks",
        "help_requests",
        "cards",
        "review_logs",
        "carded_pages",
    } <= set(db.table_names())
    assert "daily_topic_stats" in db.view_names()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    """A failing body leaves nothing behind."""
    db = open_database(tmp_path / "a.db")

    def fail_halfway() -> None:
        with transaction(db):
            db.table("topics").insert({"name": "Astronomy"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert db.execute("SELECT count(*) FROM topics WHERE name = 'Astronomy'").fetchone()[0] == 0


async def test_store_works_off_the_event_loop_thread(tmp_path: Path) -> None:
    """Database work runs on the store's own thread, never on the loop's."""
    store = Store(tmp_path / "a.db")
    await store.open()
    try:
        worker = await store.run(lambda db: threading.get_ident())
        assert worker != threading.get_ident()
    finally:
        await store.close()


async def test_store_runs_work_in_submission_order(tmp_path: Path) -> None:
    """One thread means writes queued together land in the order they were queued."""
    store = Store(tmp_path / "a.db")
    await store.open()

    def insert(name: str) -> Callable[[sqlite_utils.Database], None]:
        def work(db: sqlite_utils.Database) -> None:
            db.table("topics").insert({"name": name})

        return work

    def latest(db: sqlite_utils.Database) -> list[str]:
        return [r["name"] for r in db.query("SELECT name FROM topics ORDER BY id DESC LIMIT 20")]

    try:
        names = [f"Topic {n}" for n in range(20)]
        await asyncio.gather(*(store.run(insert(name)) for name in names))
        assert (await store.run(latest))[::-1] == names
    finally:
        await store.close()


async def test_sqlite_errors_become_store_errors(tmp_path: Path) -> None:
    """A failing statement surfaces as the edge's StoreError, not sqlite3's."""
    store = Store(tmp_path / "a.db")
    await store.open()
    try:
        with pytest.raises(StoreError, match="no such table"):
            await store.run(lambda db: db.execute("SELECT * FROM nowhere"))
    finally:
        await store.close()
