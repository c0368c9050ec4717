"""`studylens-edge discover`: list the StudyLens daemons advertised on this network."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from edge.cli.format import cell
from edge.discovery import Found
from edge.discovery import discover as browse

# TXT keys in the order the advert defines them; unknown keys follow, sorted.
_KNOWN_KEYS = ("v", "id", "pairing", "api", "ws", "tls")


def _txt_lines(txt: dict[str, str]) -> list[str]:
    known = [k for k in _KNOWN_KEYS if k in txt]
    others = sorted(k for k in txt if k not in _KNOWN_KEYS)
    return [f"{key}={txt[key]}" for key in known + others]


def found_table(found: list[Found]) -> Table:
    """One row per daemon: instance, host, addresses, port and every TXT record."""
    table = Table(title="StudyLens daemons on this network")
    table.add_column("instance")
    table.add_column("host")
    table.add_column("addresses")
    table.add_column("port", justify="right")
    table.add_column("TXT records")
    for daemon in found:
        table.add_row(
            # Anything on the network can advertise: shown as plain text.
            cell(daemon.instance),
            cell(daemon.host),
            cell(*daemon.addresses) if daemon.addresses else "-",
            str(daemon.port),
            cell(*_txt_lines(daemon.txt)),
        )
    return table


def discover(
    timeout: float = typer.Option(
        3.0, "--timeout", min=0.1, help="Seconds to listen for daemons on the network."
    ),
) -> None:
    """Browse the network over mDNS and print the StudyLens daemons found."""
    found = asyncio.run(browse(timeout))
    if not found:
        typer.echo("No StudyLens daemon found on this network.")
        return
    Console().print(found_table(found))
