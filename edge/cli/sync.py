"""`link`, `unlink` and `sync`: this edge's cloud account."""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import closing
from typing import Annotated

import httpx
import typer

from edge.cli.format import plain
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.settings import EdgeSettings
from edge.store import Store, open_database
from edge.sync.build import cloud_client, cloud_http, credential_store, sync_worker
from edge.sync.client import link_device
from edge.sync.credentials import CredentialStore
from edge.sync.errors import SyncError
from edge.sync.status import read_status
from edge.sync.worker import UNLINKED
from shared.auth import DeviceCode
from shared.clock import SystemClock

app = typer.Typer(help="Sync with the cloud account.", no_args_is_help=True)


def _show(code: DeviceCode) -> None:
    # The cloud wrote all three: shown with control characters escaped.
    typer.echo(f"To link this edge, open {plain(code.verification_uri)} and enter the code:")
    typer.echo(f"\n    {plain(code.user_code)}\n")
    typer.echo(f"(or open {plain(code.verification_uri_complete)}); waiting for approval...")


def link(
    cloud_url: Annotated[str, typer.Argument(help="The cloud API, e.g. https://api.example.com")],
    name: Annotated[
        str | None, typer.Option(help="How the device appears in the account (default: host).")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Link this edge to a student's cloud account (device code flow)."""
    settings = settings_or_exit(config, data_dir=data_dir)
    store = credential_store(settings)
    current = store.load()
    if current is not None:
        typer.echo(
            f"error: already linked to {plain(current.cloud_url)}; run `unlink` first", err=True
        )
        raise typer.Exit(1)

    async def run() -> None:
        async with cloud_http(settings) as http:
            await link_device(
                http, cloud_url, name or socket.gethostname(), store, SystemClock(), _show
            )

    try:
        asyncio.run(run())
    except SyncError as exc:  # the code expired, or the cloud failed or refused
        typer.echo(f"error: {plain(exc)}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Linked. Credentials are in {store.path} (readable by this user only).")


def unlink(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Forget the cloud link (the cloud is asked to revoke the device's tokens first)."""
    settings = settings_or_exit(config, data_dir=data_dir)
    store = credential_store(settings)
    current = store.load()
    if current is None:
        typer.echo("This edge is not linked.")
        return

    async def revoke() -> None:
        async with cloud_http(settings) as http:
            await cloud_client(settings, http, SystemClock()).logout()

    try:
        asyncio.run(revoke())
    except SyncError as exc:
        typer.echo(
            f"warning: the cloud could not be told ({plain(exc)}); unlinking locally", err=True
        )
    store.delete()
    typer.echo(f"Unlinked from {plain(current.cloud_url)}. Facts keep collecting locally.")


@app.command("status", help="Pending facts and images, last success and error, next retry.")
def status(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the sync status."""
    settings = settings_or_exit(config, data_dir=data_dir)
    credentials = credential_store(settings)
    with closing(open_database(existing_database(settings))) as db:
        found = read_status(db, credentials, enabled=settings.sync.enabled)
    if as_json:
        typer.echo(json.dumps(found.model_dump(mode="json", by_alias=True), indent=2))
        return
    # The cloud URL was typed at `link`, the error text came from the cloud: escaped.
    typer.echo(f"linked:          {plain(found.cloud_url) if found.linked else 'no (local only)'}")
    typer.echo(f"pending facts:   {found.pending_facts}")
    if found.pending_deletions:
        typer.echo(f"  of them deletions: {found.pending_deletions} (forgotten here)")
    typer.echo(f"pending images:  {found.pending_images}")
    typer.echo(f"refused facts:   {found.rejected_facts}")
    typer.echo(f"last success:    {found.last_success_at or 'never'}")
    if found.last_error:
        typer.echo(f"last error:      {plain(found.last_error)} ({found.last_error_at})")
        typer.echo(f"next retry:      {found.next_retry_at}")
        if found.last_error.startswith(f"{UNLINKED}:"):
            typer.echo(
                "The cloud no longer accepts this edge: its account was deleted or this device"
                " was revoked. Facts keep collecting here; run `studylens-edge unlink`, then"
                " `studylens-edge link URL` to sync to an account again."
            )


@app.command("now", help="Send everything pending now, from this process.")
def now(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Run sync passes until nothing is pending or one fails."""
    settings = settings_or_exit(config, data_dir=data_dir)
    credentials = credential_store(settings)
    if credentials.load() is None:
        typer.echo("error: this edge is not linked; run `studylens-edge link URL`", err=True)
        raise typer.Exit(1)
    sent = asyncio.run(_drain(settings, credentials))
    typer.echo(f"sent {sent[0]} facts and {sent[1]} images")
    if sent[2]:
        typer.echo(f"error: {plain(sent[2])}", err=True)
        raise typer.Exit(1)


async def _drain(settings: EdgeSettings, credentials: CredentialStore) -> tuple[int, int, str]:
    store = Store(existing_database(settings))
    await store.open()
    try:
        async with cloud_http(settings) as http:
            # Built as the daemon builds its own: retention, upload concurrency and bandwidth
            # cap included, not only the batch size.
            worker = sync_worker(
                settings, store=store, http=http, clock=SystemClock(), credentials=credentials
            )
            facts = images = 0
            for _ in range(10_000):
                try:
                    result = await worker.sync_pass()
                except (SyncError, httpx.HTTPError, OSError) as exc:
                    return facts, images, str(exc)
                facts += result.facts
                images += result.images
                if not result.more and not result.images:
                    break
            return facts, images, ""
    finally:
        await store.close()
