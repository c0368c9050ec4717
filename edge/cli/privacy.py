"""`pause`, `resume` and `forget`: the privacy switch and deletion, on the data dir itself.

A running daemon follows: it sees a pause within a second, and a session forgotten under it
is refused at its next frame.
"""

from __future__ import annotations

import asyncio
from contextlib import closing
from datetime import date, tzinfo
from typing import Annotated

import typer
from pydantic import ValidationError

from edge.cli.format import plain
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.errors import EdgeError, InvalidRequest
from edge.privacy.forget import ForgetReport, ForgetScope, ForgetService
from edge.privacy.pause import MAX_MINUTES, PauseState, clear_pause, read_state, write_pause
from edge.settings import EdgeSettings
from edge.store import Store, open_database
from edge.sync.build import credential_store
from shared.clock import SystemClock


def pause(
    minutes: Annotated[
        int | None,
        typer.Option(
            "--minutes",
            min=1,
            max=MAX_MINUTES,
            help=f"End the pause by itself after this many minutes (1 to {MAX_MINUTES}); "
            "without it, the pause lasts until `resume`.",
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Pause capture: frames are refused and voice closes until the pause ends."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(settings.database_path)) as db:
        state = write_pause(db, SystemClock().now(), minutes)
    typer.echo(_sentence(state, settings.zone))
    typer.echo("A running daemon refuses frames at once and closes voice within a second.")


def resume(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """End the pause (nothing to do when none is on)."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with closing(open_database(existing_database(settings))) as db:
        was = read_state(db, SystemClock().now())
        clear_pause(db)
    typer.echo("Resumed: capture is on." if was.paused else "Not paused: capture is on.")


def _sentence(state: PauseState, zone: tzinfo) -> str:
    if state.ends_at is None:
        return "Paused until you run `studylens-edge resume`."
    local = state.ends_at.astimezone(zone)
    return f"Paused until {local:%Y-%m-%d %H:%M} ({state.ends_at:%H:%M} UTC)."


def forget(
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            help="Forget every session that started before this day (YYYY-MM-DD, your zone).",
        ),
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="Forget one session, by its id.")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Forget every session, original and recording.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete sessions with their frames, originals and recordings; the cloud is told."""
    settings = settings_or_exit(config, data_dir=data_dir)
    scope = _scope_or_exit(before, session, everything)
    existing_database(settings)
    try:
        preview = asyncio.run(_run(settings, scope, delete=False))
        if preview.sessions == 0 and preview.recordings == 0:
            typer.echo(f"Nothing to forget: no session in {scope.describe()}.")
            return
        typer.echo(f"This forgets {scope.describe()}: {_counts(preview)}.")
        if not yes:
            typer.confirm("Delete this for good? It cannot be undone", abort=True)
        done = asyncio.run(_run(settings, scope, delete=True))
    except EdgeError as exc:
        typer.echo(f"error: {plain(exc.message)}", err=True)
        raise typer.Exit(2 if isinstance(exc, InvalidRequest) else 1) from exc
    typer.echo(f"Forgotten: {_counts(done)}.")
    if credential_store(settings).load() is None:
        typer.echo("This edge is not linked to a cloud account: nothing else holds a copy.")
    else:
        typer.echo("The cloud deletes its copies at the next sync (`studylens-edge sync status`).")


def _scope_or_exit(before: str | None, session: str | None, everything: bool) -> ForgetScope:
    try:
        day = date.fromisoformat(before) if before is not None else None
    except ValueError:
        typer.echo(f"error: --before must be a date like 2026-09-01, not {before!r}.", err=True)
        raise typer.Exit(2) from None
    try:
        return ForgetScope(before=day, session_id=session, all=everything)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        field = {"session_id": "--session"}.get(str(problem["loc"][0]) if problem["loc"] else "")
        what = f"{field}: " if field else ""
        typer.echo(
            f"error: {what}{problem['msg']} (give one of --before DATE, --session ID, --all).",
            err=True,
        )
        raise typer.Exit(2) from None


async def _run(settings: EdgeSettings, scope: ForgetScope, *, delete: bool) -> ForgetReport:
    store = Store(settings.database_path)
    await store.open()
    try:
        service = ForgetService.configured(
            settings, store, SystemClock(), credentials=credential_store(settings)
        )
        return await (service.forget(scope) if delete else service.preview(scope))
    finally:
        await store.close()


def _counts(report: ForgetReport) -> str:
    parts = [
        f"{report.sessions} session(s)",
        f"{report.learning_events} frame(s)",
        f"{report.topic_segments} topic segment(s)",
        f"{report.bookmarks} bookmark(s)",
        f"{report.help_requests} help request(s)",
        f"{report.cards} review card(s)",
        f"{report.review_logs} review grade(s)",
        f"{report.originals} original(s)",
        f"{report.recordings} recording(s)",
    ]
    span = ""
    if report.oldest is not None and report.newest is not None:
        span = f", from {report.oldest:%Y-%m-%d} to {report.newest:%Y-%m-%d}"
    return f"{', '.join(parts)}, {report.bytes / 1e6:.1f} MB of files{span}"
