"""`export` and `import`: the student's data as one zip, and onto a new computer from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from edge import __version__
from edge.cli.format import plain
from edge.cli.options import ConfigOption, DataDirOption, existing_database, settings_or_exit
from edge.errors import InvalidDate
from edge.frames.originals import OriginalStore
from edge.privacy.archive import Manifest, Step
from edge.privacy.archive import Progress as ProgressCallback
from edge.privacy.errors import ArchiveError
from edge.privacy.export import export_archive, parse_since
from edge.privacy.restore import restore_archive
from edge.store import open_database
from edge.sync.build import ORIGINALS_FOLDER
from shared.clock import SystemClock

#: Exit status of a refused export or import (a usage error, such as a bad date, is 2).
REFUSED = 1


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    """A rich progress bar on stderr; yields the callback the library reports to."""
    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def report(step: Step) -> None:
            bar.update(task, description=step.stage, completed=step.done, total=step.total)

        yield report


def _summary(manifest: Manifest) -> str:
    counts = ", ".join(f"{kind.replace('_', ' ')}: {n}" for kind, n in manifest.counts.items())
    return f"{counts}, originals: {len(manifest.originals)}, recordings: {len(manifest.recordings)}"


def export(
    out: Annotated[
        Path, typer.Option("--out", help="The zip file to write.", dir_okay=False, writable=True)
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only what happened on or after this day (YYYY-MM-DD, the student's zone).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the zip file if it already exists.")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the sessions, events, topics, bookmarks, cards, devices, originals and recordings."""
    settings = settings_or_exit(config, data_dir=data_dir)
    now = SystemClock().now()
    try:
        first_day = parse_since(since, now, settings.zone) if since is not None else None
    except InvalidDate as exc:
        typer.echo(f"error: {plain(exc.message)}", err=True)
        raise typer.Exit(2) from exc
    with closing(open_database(existing_database(settings))) as db, _progress_bar() as report:
        try:
            manifest = export_archive(
                db,
                out,
                originals=OriginalStore(settings.data_dir / ORIGINALS_FOLDER),
                recordings=settings.recordings_path,
                now=now,
                zone=settings.zone,
                app_version=__version__,
                since=first_day,
                replace=force,
                progress=report,
            )
        except ArchiveError as exc:
            typer.echo(f"error: {plain(exc.message)}", err=True)
            raise typer.Exit(REFUSED) from exc
    typer.echo(f"Exported to {plain(out)}: {_summary(manifest)}.")


def import_archive(
    archive: Annotated[
        Path,
        typer.Argument(help="A zip written by `studylens-edge export`.", dir_okay=False),
    ],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Restore an export into an empty data dir: same ids, same totals, nothing sent twice."""
    settings = settings_or_exit(config, data_dir=data_dir)
    with _progress_bar() as report:
        try:
            manifest = restore_archive(archive, settings.data_dir, progress=report)
        except ArchiveError as exc:
            typer.echo(f"error: {plain(exc.message)}", err=True)
            raise typer.Exit(REFUSED) from exc
    typer.echo(f"Imported into {plain(settings.data_dir)}: {_summary(manifest)}.")
    typer.echo("Pair your phones again (`studylens-edge pair`) and link the cloud (`link`).")
