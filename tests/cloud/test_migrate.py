"""Migrations: they build exactly the models, undo cleanly, and run once per deploy.

Every host of an Auto Scaling group runs `studylens-cloud serve`, which migrates before its
workers start (`migrate` does the same alone); a PostgreSQL advisory lock lets one of them
create the schema while the others wait, then find it at head (issue 18, item 2).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, make_url

from cloud.db.engine import make_engine
from cloud.db.migrate import MIGRATION_LOCK, alembic_config
from cloud.db.models import Base
from tests import conftest
from tests.cloud.secrets_support import (
    FakeSecretsManager,
)
from tests.integration.logs_support import clean_env

#: The key `cloud.db.migrate.upgrade` locks (`pg_advisory_xact_lock`).
PROCESSES = 3


@asynccontextmanager
async def new_database() -> AsyncIterator[URL]:
    """An empty PostgreSQL database of this test alone, dropped afterwards."""
    name = f"studylens_migrate_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await conftest.pg_admin(f"CREATE DATABASE {name}")
    try:
        yield make_url(conftest.test_database_url()).set(database=name)
    finally:
        await conftest.pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def fresh_database() -> AsyncIterator[URL]:
    """An empty PostgreSQL database of this test alone, dropped afterwards."""
    async with new_database() as url:
        yield url


async def connect(url: URL) -> Any:
    """A plain asyncpg connection to `url`'s database."""
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )


async def lock_waiters(connection: Any) -> int:
    """Sessions of this database waiting for an advisory lock."""
    count: int = await connection.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return count


async def test_migrate_processes_at_once_with_secrets_by_arn_build_the_schema_once(
    fresh_database: URL,
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Three `migrate` processes (database user by ARN) on one empty database: all exit 0.

    The test holds the migrations' lock until all three wait for it, so they really contend;
    then the schema is at head with one version row.
    """
    url = fresh_database
    arn = secrets_manager.create({"username": url.username or "", "password": url.password or ""})
    env = clean_env(
        **aws_env,
        STUDYLENS_CLOUD_DATA_DIR=str(tmp_path / "cloud"),
        STUDYLENS_CLOUD_DATABASE_SECRET_ARN=arn,
        STUDYLENS_CLOUD_DATABASE_HOST=url.host or "",
        STUDYLENS_CLOUD_DATABASE_PORT=str(url.port),
        STUDYLENS_CLOUD_DATABASE_NAME=url.database or "",
        STUDYLENS_CLOUD_SECRETS_ENDPOINT_URL=secrets_manager.endpoint_url,
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
    )
    command = str(Path(sys.executable).parent / "studylens-cloud")
    holder = await connect(url)
    processes: list[asyncio.subprocess.Process] = []
    try:
        await holder.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        for _ in range(PROCESSES):
            processes.append(
                await asyncio.create_subprocess_exec(
                    command,
                    "migrate",
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
        # Until every process waits for the lock, or one ended without waiting for it (60 s).
        for _ in range(1200):
            waiting = await lock_waiters(holder)
            if waiting == PROCESSES or any(p.returncode is not None for p in processes):
                break
            await asyncio.sleep(0.05)
        await holder.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        async with asyncio.timeout(60):
            outputs = [await process.communicate() for process in processes]
        versions = [row["version_num"] for row in await holder.fetch("TABLE alembic_version")]
        tables = {
            row["tablename"]
            for row in await holder.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname='public'"
            )
        }
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await holder.close()
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        assert b"database is at the newest schema" in out
    assert waiting == PROCESSES
    head = ScriptDirectory.from_config(
        alembic_config(url.render_as_string(hide_password=False))
    ).get_current_head()
    assert versions == [head]
    assert {"users", "study_sessions", "refresh_tokens"} <= tables


# --- the migrations against the models --------------------------------------------------------


def drift(connection: Connection) -> list[Any]:
    """What Alembic's autogenerate would still change: the models against the database."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    found: list[Any] = compare_metadata(context, Base.metadata)
    return found


async def migrated(url: str, *steps: tuple[str, str]) -> list[Any]:
    """Run Alembic steps (`("downgrade", "0003")`) on `url`, then the drift from the models."""
    config = alembic_config(url)

    def run(connection: Connection) -> list[Any]:
        config.attributes["connection"] = connection
        for step, target in steps:
            getattr(command, step)(config, target)
        return drift(connection)

    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(run)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all: a new SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    async with new_database() as url:
        yield url.render_as_string(hide_password=False)


async def test_the_migrations_build_exactly_the_models(cloud_database_url: str) -> None:
    """At head, tables, columns, types, nullability and indexes are the models', nothing else."""
    assert await migrated(cloud_database_url) == []


async def test_0004_downgrades_to_exactly_0003_and_upgrades_again(empty_database: str) -> None:
    """Down to 0003 removes the cards and review logs with their indexes, and nothing else."""
    down = await migrated(empty_database, ("upgrade", "head"), ("downgrade", "0003"))
    assert sorted((change[0], change[1].name) for change in down) == [
        ("add_index", "ix_cards_session_id"),
        ("add_index", "ix_cards_user_created"),
        ("add_index", "ix_review_logs_card_id"),
        ("add_index", "ix_review_logs_user_reviewed"),
        ("add_table", "cards"),
        ("add_table", "review_logs"),
    ]
    assert await migrated(empty_database, ("upgrade", "head")) == []
