"""`review`: the due cards one at a time in the terminal; Enter reveals, 1-4 grade, q quits."""

from __future__ import annotations

import sys
from contextlib import closing

import click
from rich.console import Console
from rich.text import Text

from edge.cli.format import cell
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.memory import review as reviewing
from edge.memory.models import ReviewCard
from edge.memory.scheduler import Scheduler
from edge.store import open_database
from shared.clock import SystemClock
from shared.memory import Rating

KEYS: dict[str, Rating] = {"1": "again", "2": "hard", "3": "good", "4": "easy"}
REVEAL = {"\r", "\n", " "}
QUIT = {"q", "Q", "\x03", "\x04", ""}  # "" is the end of input


def read_key() -> str:
    """One key press at a terminal (no Enter needed); one character of piped input."""
    if sys.stdin.isatty():
        return click.getchar()
    return sys.stdin.read(1)


def _key(allowed: set[str]) -> str:
    """The next key among `allowed` (or a quit key); others are ignored."""
    while True:
        key = read_key()
        if key in allowed or key in QUIT:
            return key


def _show(console: Console, card: ReviewCard) -> None:
    console.print(Text.assemble((f"{card.topic}", "bold"), f"  {card.kind}"))
    console.print(cell(card.question))
    console.print("[dim]Enter: show the answer, q: quit[/dim]")


def review(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Review the due cards: Enter shows the answer, 1 again, 2 hard, 3 good, 4 easy, q quits."""
    settings = settings_or_exit(config, data_dir=data_dir)
    console = Console()
    clock, scheduler, zone = SystemClock(), Scheduler(), settings.zone
    graded = 0
    with closing(open_database(existing_database(settings))) as db:
        while True:
            queue = reviewing.due(db, clock.now(), zone, limit=1)
            if not queue.cards:
                console.print("Nothing is due. Well done.")
                break
            [card] = queue.cards
            console.print(f"\n[dim]{queue.due_count} due[/dim]")
            _show(console, card)
            if _key(REVEAL) in QUIT:
                break
            console.print(Text.assemble(("Answer: ", "bold"), cell(card.answer)))
            console.print("[dim]1 again  2 hard  3 good  4 easy  q quit[/dim]")
            key = _key(set(KEYS))
            if key in QUIT:
                break
            after = reviewing.grade(db, scheduler, card.card_id, KEYS[key], clock.now(), zone)
            graded += 1
            console.print(f"{KEYS[key]}: next at {after.card.due.astimezone(zone):%Y-%m-%d %H:%M}")
        today = reviewing.progress(db, clock.now(), zone)
    console.print(
        f"Graded {graded} card(s) this time; {today.reviewed_today} today, {today.due_now} due."
    )
