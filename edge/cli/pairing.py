"""`pair` and `devices`: letting a phone in, and showing it out."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edge import pairing
from edge.cli.format import cell, plain
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.store import open_database
from shared.clock import SystemClock, to_iso

devices_app = typer.Typer(help="Paired phones.", no_args_is_help=True)


def pair(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the code as JSON.")] = False,
) -> None:
    """Show a one-time code that the phone exchanges for its token (POST /api/pair)."""
    settings = settings_or_exit(config, data_dir=data_dir)
    now = SystemClock().now()
    with closing(open_database(settings.database_path)) as db:
        code = pairing.new_code(db, now, timedelta(minutes=settings.access.pairing_code_minutes))
    if as_json:
        typer.echo(json.dumps({"code": code.code, "expiresAt": to_iso(code.expires_at)}))
        return
    minutes = settings.access.pairing_code_minutes
    typer.echo(f"Pairing code: {code.code[:3]} {code.code[3:]}")
    typer.echo(f"Enter it in the StudyLens app within {minutes:g} minutes; it works once.")


@devices_app.command("list", help="List paired phones, newest first.")
def list_devices(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Print the paired devices."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        found = pairing.list_devices(db)
    if not found:
        typer.echo("No paired devices.")
        return
    table = Table(title="Paired devices")
    for column in ("id", "name", "paired", "state"):
        table.add_column(column)
    zone = settings.zone
    for d in found:
        state = (
            f"revoked {d.revoked_at.astimezone(zone):%Y-%m-%d %H:%M}" if d.revoked_at else "active"
        )
        # The name is whatever the phone sent when pairing: a rogue one must not hide itself.
        paired = f"{d.created_at.astimezone(zone):%Y-%m-%d %H:%M}"
        table.add_row(cell(d.device_id), cell(d.name), paired, state)
    Console(width=140).print(table)


@devices_app.command("revoke", help="Withdraw a phone's token; its open sockets close at once.")
def revoke(
    device_id: Annotated[str, typer.Argument(help="The id from `devices list`.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke one device."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        try:
            pairing.revoke(db, device_id, SystemClock().now())
        except pairing.DeviceNotFound as exc:
            typer.echo(f"error: {plain(exc.message)}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"Revoked {plain(device_id)}.")
