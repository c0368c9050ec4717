"""`stats today`: time per topic today, from the local database."""

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

app = typer.Typer(help="Study-time statistics.", no_args_is_help=True)


@app.command("today", help="Show today's time per topic, the running session included.")
def today(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Print today's topic table."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        stats = analytics.today_stats(db, SystemClock().now(), settings.zone)
    if not stats.topic_stats:
        typer.echo(f"Nothing studied yet on {stats.date.isoformat()}.")
        return
    table = Table(title=f"Study time on {stats.date.isoformat()}")
    for column in ("topic", "time", "active", "passive", "distracted"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for stat in stats.topic_stats:
        table.add_row(
            cell(stat.topic),  # named by the model (or an older lexicon): plain text
            duration(stat.duration_seconds),
            str(stat.active_count),
            str(stat.passive_count),
            str(stat.distracted_count),
        )
    table.add_section()
    table.add_row("total", duration(stats.total_seconds), "", "", "")
    Console(width=120).print(table)
