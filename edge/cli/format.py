"""Formatting for terminal tables."""

from __future__ import annotations


def duration(seconds: int) -> str:
    """Format whole seconds as `H:MM:SS`."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
