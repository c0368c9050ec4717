"""`studylens-cloud`: run and administer the cloud API."""

from __future__ import annotations

import typer

from cloud.cli import admin, server

app = typer.Typer(
    name="studylens-cloud",
    help="StudyLens cloud API: sign-in, sync ingest, images and analytics for linked edges.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(help="Run the API (migrations applied first) until interrupted.")(server.serve)
app.command(help="Bring the database to the newest schema.")(server.migrate)
app.command(name="config", help="Print the effective settings, secrets masked.")(server.show_config)
app.add_typer(admin.app, name="admin")


def main() -> None:
    """Entry point of the console script."""
    app()
