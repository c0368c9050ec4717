"""Running the daemon, and asking a running one for its health."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from edge.app import create_app
from edge.cli.format import cell, plain
from edge.cli.options import ConfigOption, DataDirOption, settings_or_exit
from edge.http.context import SERVICES
from edge.http.server import serve as run_server
from edge.tls import server_context
from shared.logs import configure_logging

HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to listen on (0.0.0.0 for the phone).")
]
PortOption = Annotated[int | None, typer.Option("--port", help="TCP port to listen on.")]


def serve(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    tls: Annotated[
        bool | None,
        typer.Option("--tls/--no-tls", help="HTTPS/WSS with a self-signed, pinned certificate."),
    ] = None,
    mdns: Annotated[
        bool | None,
        typer.Option("--mdns/--no-mdns", help="Advertise the daemon on the network by mDNS."),
    ] = None,
) -> None:
    """Run the daemon in the foreground until interrupted."""
    settings = settings_or_exit(config, host=host, port=port, data_dir=data_dir, tls=tls, mdns=mdns)
    configure_logging(settings.log_level, settings.log_format, filters=[_mask_library_secrets])
    log = logging.getLogger("edge")
    log.info(
        "StudyLens edge on http://%s:%d, data in %s",
        settings.host,
        settings.port,
        settings.data_dir,
    )
    app = create_app(settings)
    certificate = app[SERVICES].certificate
    if certificate is not None:
        log.info("TLS on; certificate fingerprint (SHA-256) %s", certificate.fingerprint)
    asyncio.run(
        run_server(
            app,
            host=settings.host,
            port=settings.port,
            max_connections_per_client=settings.limits.max_connections_per_client,
            ssl_context=server_context(certificate) if certificate else None,
        )
    )


#: Handshake headers that websockets logs at DEBUG and that carry a credential.
_SECRET_HEADERS = frozenset({"authorization", "cookie"})


def _mask_library_secrets(record: logging.LogRecord) -> bool:
    """Mask what libraries log that would let a reader in; the line itself is kept.

    websockets logs every handshake header at DEBUG, the Realtime API's `Authorization: Bearer
    <OpenAI key>` among them; httpx logs every request's URL at INFO, and a presigned upload's
    query is its signature (`sig=`, `X-Amz-Signature=`).
    """
    args = record.args
    if not isinstance(args, tuple) or len(args) < 2:
        return True
    if record.msg == "> %s: %s" and str(args[0]).lower() in _SECRET_HEADERS:
        record.args = (args[0], "[masked]", *args[2:])
    elif isinstance(record.msg, str) and record.msg.startswith("HTTP Request: "):
        path, query = str(args[1]).partition("?")[::2]
        record.args = (args[0], f"{path}?[masked]" if query else path, *args[2:])
    return True


def _reachable(host: str) -> str:
    """The address to ask a daemon listening on `host`: wildcards mean loopback."""
    if host in ("", "0.0.0.0"):  # noqa: S104
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:  # a host name
        return host


def status(
    host: HostOption = None,
    port: PortOption = None,
    config: ConfigOption = None,
) -> None:
    """Ask the running daemon how it is doing; exit 1 if none answers."""
    settings = settings_or_exit(config, host=host, port=port)
    url = f"http://{_reachable(settings.host)}:{settings.port}/healthz"
    try:
        response = httpx.get(url, timeout=5)
        health = response.json()["data"]
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError) as exc:
        typer.echo(f"No StudyLens daemon answers at {url}: {plain(exc)}", err=True)
        raise typer.Exit(1) from exc
    table = Table(
        title=cell(f"StudyLens edge at {url.removesuffix('/healthz')}"), show_header=False
    )
    # Whatever answers on that port wrote these: plain text only.
    table.add_row("status", cell(health["status"]))
    table.add_row("version", cell(health["version"]))
    table.add_row("up for", cell(f"{health['uptimeSeconds']} s"))
    table.add_row("running sessions", cell(health["activeSessions"]))
    for name, task in health["tasks"].items():
        state = "running" if task["running"] else "stopped"
        table.add_row(cell(f"task {name}"), cell(f"{state}, {task['failures']} failure(s)"))
    Console().print(table)
