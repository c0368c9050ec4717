"""`report`: the weekly report as tables, from the local database."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edge.cli.format import cell
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.errors import InvalidWeek
from edge.report.models import Recall, WeeklyReport
from edge.report.reads import read_weekly_report
from edge.report.weekly import week_asked
from edge.store import open_database
from shared.clock import SystemClock, local_date

WeekOption = Annotated[
    str | None,
    typer.Option("--week", metavar="YYYY-Www", help="The ISO week to report (default: this one)."),
]


def minutes(seconds: int) -> int:
    """Whole minutes, half a minute rounded up, as the dashboard's Report page rounds them."""
    return (seconds + 30) // 60


def change(seconds: int, previous_seconds: int) -> str:
    """The difference in minutes with its sign."""
    delta = minutes(seconds) - minutes(previous_seconds)
    return f"{delta:+d}" if delta else "0"


def recall_line(recall: Recall) -> str:
    """How many cards were reviewed and the share remembered."""
    if recall.share is None:
        return "Cards: none reviewed"
    # Half a percent up, as Math.round does on the page (Python's round() goes to even).
    return f"Cards: {recall.reviewed} reviewed, {int(recall.share * 100 + 0.5)} % recalled"


def render(report: WeeklyReport, console: Console) -> None:
    """Print the report: topics against the week before, the days, the figures below."""
    topics = Table(title=f"Week {report.week}: {report.from_date} to {report.to_date} (minutes)")
    for column in ("topic", "this week", "week before", "change"):
        topics.add_column(column, justify="left" if column == "topic" else "right")
    for row in report.topics:
        topics.add_row(
            cell(row.topic),  # named by the model (or an older lexicon): plain text
            str(minutes(row.seconds)),
            str(minutes(row.previous_seconds)),
            change(row.seconds, row.previous_seconds),
        )
    topics.add_section()
    topics.add_row(
        "total",
        str(minutes(report.total_seconds)),
        str(minutes(report.previous_total_seconds)),
        change(report.total_seconds, report.previous_total_seconds),
    )
    console.print(topics)
    days = Table(title=f"Goal: {report.goal_minutes_per_day} minutes a day")
    for column in ("day", "minutes", "goal"):
        days.add_column(column, justify="left" if column == "day" else "right")
    for day in report.days:
        days.add_row(
            f"{day.date:%a %Y-%m-%d}", str(minutes(day.seconds)), "met" if day.goal_met else ""
        )
    console.print(days)
    console.print(f"Goal met on {report.goal_days_met} of 7 days", highlight=False)
    streak = f" (to {report.streak_until})" if report.streak_until else ""
    plural = "" if report.streak_days == 1 else "s"
    console.print(f"Streak: {report.streak_days} day{plural}{streak}", highlight=False)
    console.print(recall_line(report.recall), highlight=False)
    distracted = ", ".join(
        f"{d.topic} ({d.distracted_frames} of {d.frames} frames)" for d in report.distracted
    )
    console.print(cell(f"Most distracted: {distracted or 'none'}"))


def report(
    config: ConfigOption = None, data_dir: DataDirOption = None, week: WeekOption = None
) -> None:
    """Print the weekly report."""
    settings = settings_or_exit(config, data_dir=data_dir)
    now = SystemClock().now()
    try:
        asked = week_asked(week, local_date(now, settings.zone))
    except InvalidWeek as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    with closing(open_database(existing_database(settings))) as db:
        found = read_weekly_report(db, asked, now, settings.zone, settings.goal.minutes_per_day)
    render(found, Console(width=120))
