"""`studylens-edge`: run and administer the edge daemon."""

from __future__ import annotations

import os

import typer

from edge.cli import (
    archive,
    cards,
    config,
    daemon,
    discover,
    pairing,
    privacy,
    report,
    review,
    sessions,
    stats,
    sync,
    voice,
)
from edge.files import PRIVATE_UMASK

app = typer.Typer(
    name="studylens-edge",
    help="StudyLens edge daemon: serve the phone, track study time, administer the data.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(help="Run the daemon in the foreground until interrupted.")(daemon.serve)
app.command(help="Ask the running daemon how it is doing.")(daemon.status)
app.add_typer(config.app, name="config")
app.add_typer(sessions.app, name="sessions")
app.add_typer(stats.app, name="stats")
app.command(help="Show a week's report: time against the week before, goals, streak, recall.")(
    report.report
)
app.add_typer(cards.app, name="cards")
app.command(help="Review the due cards: Enter shows the answer, keys 1-4 grade, q quits.")(
    review.review
)
app.command(help="Talk to the tutor with this computer's microphone and speaker.")(voice.voice)
app.add_typer(voice.audio_app, name="audio")
app.command(help="Show a one-time code to pair a phone.")(pairing.pair)
app.add_typer(pairing.devices_app, name="devices")
app.command(help="Find StudyLens daemons on this network (mDNS).")(discover.discover)
app.command(help="Link this edge to a cloud account (device code flow).")(sync.link)
app.command(help="Forget the cloud link.")(sync.unlink)
app.add_typer(sync.app, name="sync")
app.command(help="Pause capture: no frames, no voice, until resumed or --minutes pass.")(
    privacy.pause
)
app.command(help="End a pause: capture is on again.")(privacy.resume)
app.command(help="Delete sessions (before a day, one, or all) here and in the cloud.")(
    privacy.forget
)
app.command(help="Write all study data, originals and recordings to one zip.")(archive.export)
app.command("import", help="Restore an export into an empty data dir (a new computer).")(
    archive.import_archive
)


def main() -> None:
    """Entry point of the console script."""
    # Behind the explicit 0600/0700 modes of edge.files: whatever a library creates in the
    # data dir (runtime caches, SQLite's temporary files) is this user's only, too.
    os.umask(PRIVATE_UMASK)
    app()
