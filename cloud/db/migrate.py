"""Bring a database to the newest schema with Alembic, from code (no alembic.ini needed)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from cloud.db.engine import make_engine

#: The PostgreSQL advisory lock every process takes to migrate: one at a time, the rest wait.
MIGRATION_LOCK = 7158420231


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and `url`."""
    config = Config()
    config.set_main_option("script_location", "cloud:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: object, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(url: str) -> None:
    """Apply every pending migration; safe to run from several processes at once on PostgreSQL."""
    engine = make_engine(url, pool_size=1)
    config = alembic_config(url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two API processes starting together must not both create the tables.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK}
                )
            await connection.run_sync(_upgrade, config)
    finally:
        await engine.dispose()


def upgrade_sync(url: str) -> None:
    """`upgrade` for callers without a running event loop (the CLI)."""
    asyncio.run(upgrade(url))
