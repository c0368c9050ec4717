"""`sessions list`: recent study sessions from the local database."""

from __future__ import annotations

from contextlib import closing

import typer
from rich.console import Console
from rich.table import Table

from edge import analytics
from edge.cli.format import cell, duration
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.store import open_database
from shared.clock import SystemClock

app = typer.Typer(help="Study sessions.", no_args_is_help=True)


@app.command("list", help="List the latest sessions with their totals, newest first.")
def list_sessions(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="How many sessions to show."),
) -> None:
    """List recent sessions."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        rows = analytics.recent_sessions(db, SystemClock().now(), settings.zone, limit)
    if not rows:
        typer.echo("No study sessions yet.")
        return
    table = Table(title="Study sessions")
    for column in ("session", "date", "started", "ended", "studied", "frames"):
        table.add_column(column)
    zone = settings.zone
    for row in rows:
        ended = (
            f"{row.ended_at.astimezone(zone):%H:%M} ({row.end_reason})"
            if row.ended_at
            else "running"
        )
        table.add_row(
            cell(row.session_id),
            row.date.isoformat(),
            f"{row.started_at.astimezone(zone):%H:%M}",
            cell(ended),
            duration(row.total_seconds),
            str(row.total_analyses),
        )
    Console(width=140).print(table)
