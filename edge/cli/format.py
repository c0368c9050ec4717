"""Formatting for the terminal: tables, durations, and text others wrote, shown safely.

Phones name themselves, the model names topics, the cloud writes errors: none of it may drive
the terminal. Rich markup (`[/]` even crashes a table) and control characters (ANSI escapes,
bidi overrides, newlines that fake rows) are shown as text, never interpreted.
"""

from __future__ import annotations

from rich.text import Text


def duration(seconds: int) -> str:
    """Format whole seconds as `H:MM:SS`."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def plain(value: object) -> str:
    r"""`value` as text with every unprintable character escaped (`\x1b`, `\n`, `\u202e`)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(value)
    )


def cell(*lines: object) -> Text:
    """A table cell of plain text: no rich markup, no :emoji: codes, no control characters."""
    return Text("\n".join(plain(line) for line in lines))
