"""`studylens-cloud admin`: the admin operations, straight against the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import httpx
import typer

from cloud.admin import Admin
from cloud.cli.options import (
    ConfigOption,
    DatabaseOption,
    DataDirOption,
    cloud_settings,
    resolved_or_exit,
)
from cloud.db.engine import make_engine
from cloud.db.migrate import upgrade
from cloud.devices import DeviceLinks
from cloud.services import build_services
from shared.clock import SystemClock

app = typer.Typer(help="Administer users, devices and tokens.", no_args_is_help=True)
T = TypeVar("T")
Who = Annotated[str, typer.Argument(help="The user's email or id.")]


def _run(
    config: ConfigOption,
    data_dir: DataDirOption,
    database_url: DatabaseOption,
    work: Callable[[Admin, DeviceLinks], Awaitable[T]],
) -> T:
    settings = resolved_or_exit(
        cloud_settings(config, data_dir=data_dir, database_url=database_url)
    )

    async def main() -> T:
        await upgrade(settings.database_address())
        # Built as the API builds them (`cloud.services`), on a small pool of its own.
        engine = make_engine(settings.database_address(), pool_size=2)
        try:
            async with httpx.AsyncClient() as http:
                services = build_services(settings, clock=SystemClock(), engine=engine, http=http)
                return await work(services.admin, services.devices)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _print(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@app.command()
def grant(
    who: Who,
    role: Annotated[str, typer.Option(help="student or admin")] = "admin",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Give a user a role (admin by default); the user must have signed in once."""
    row = _run(config, data_dir, database_url, lambda admin, _: admin.set_role(who, role))
    typer.echo(f"{row.email} is now {row.role}")


@app.command()
def users(
    config: ConfigOption = None, data_dir: DataDirOption = None, database_url: DatabaseOption = None
) -> None:
    """List every user."""
    rows = _run(config, data_dir, database_url, lambda admin, _: admin.users())
    _print([vars(r) for r in rows])


@app.command()
def devices(
    config: ConfigOption = None, data_dir: DataDirOption = None, database_url: DatabaseOption = None
) -> None:
    """List every linked device."""
    rows = _run(config, data_dir, database_url, lambda _, links: links.list(None))
    _print([vars(r) for r in rows])


@app.command("revoke-tokens")
def revoke_tokens(
    who: Who,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Sign a user out everywhere (refresh tokens revoked, access tokens refused)."""
    count = _run(config, data_dir, database_url, lambda admin, _: admin.revoke_tokens(who))
    typer.echo(f"revoked {count} refresh tokens; access tokens issued so far are refused")


@app.command()
def stats(
    config: ConfigOption = None, data_dir: DataDirOption = None, database_url: DatabaseOption = None
) -> None:
    """Counts of users, devices, tokens, facts and images."""
    _print(_run(config, data_dir, database_url, lambda admin, _: admin.stats()))


@app.command()
def purge(
    config: ConfigOption = None, data_dir: DataDirOption = None, database_url: DatabaseOption = None
) -> None:
    """Delete expired blacklist entries, refresh tokens and device codes."""
    done = _run(config, data_dir, database_url, lambda admin, _: admin.purge())
    _print(vars(done))
