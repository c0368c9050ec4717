"""`cards list` and `cards make`: the review cards, on the data dir itself."""

from __future__ import annotations

import asyncio
from contextlib import closing
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edge.app import card_making
from edge.cli.format import cell, plain
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.errors import EdgeError
from edge.memory import review
from edge.memory.models import MAX_LIST_LIMIT, MadeCards
from edge.settings import EdgeSettings
from edge.store import Store, open_database
from shared.clock import SystemClock

app = typer.Typer(help="Review cards made from the pages of sessions.", no_args_is_help=True)


@app.command("list", help="List the review cards, newest first, with when each is due.")
def list_cards(
    topic: Annotated[
        str | None, typer.Option("--topic", help="Only cards of this topic (any case).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIST_LIMIT, help="How many cards to show.")
    ] = 100,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List cards."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        found = review.cards(db, topic, limit)
    if not found.cards:
        typer.echo("No review cards yet." if topic is None else f"No {plain(topic)} cards.")
        return
    table = Table(title=f"Review cards ({found.total})")
    for column in ("topic", "question", "answer", "state", "due"):
        table.add_column(column)
    zone = settings.zone
    for card in found.cards:
        table.add_row(
            cell(card.topic),
            cell(card.question),
            cell(card.answer),
            card.state,
            f"{card.due.astimezone(zone):%Y-%m-%d %H:%M}",
        )
    Console(width=140).print(table)


@app.command("make", help="Make review cards from a session's pages not carded yet.")
def make(
    session: Annotated[str, typer.Option("--session", help="The session, by its id.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Card one session now, as the daemon does when it ends."""
    settings = settings_or_exit(config, data_dir=data_dir)
    existing_database(settings)
    try:
        made = asyncio.run(_make(settings, session))
    except EdgeError as exc:
        typer.echo(f"error: {plain(exc.message)}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"{len(made.cards)} new card(s) from {made.pages_carded} page(s) ({plain(made.maker)})."
    )
    for card in made.cards:
        typer.echo(f"- {plain(card.question)} -> {plain(card.answer)}")


async def _make(settings: EdgeSettings, session_id: str) -> MadeCards:
    store = Store(settings.database_path)
    await store.open()
    making = card_making(settings, store, SystemClock())
    try:
        return await making.make(session_id)
    finally:
        await making.close()
        await store.close()
