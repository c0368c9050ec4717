"""`config show`: the effective settings, secrets masked."""

from __future__ import annotations

import json

import typer

from edge.cli.options import ConfigOption, DataDirOption, settings_or_exit
from edge.settings import flat_names

app = typer.Typer(help="Inspect the daemon's settings.", no_args_is_help=True)


@app.command("show", help="Print the effective settings (flag > env > file > default).")
def show(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of TOML-like lines."),
) -> None:
    """Print the effective settings with secrets masked."""
    settings = settings_or_exit(config, data_dir=data_dir)
    shown = settings.masked()
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    for name, value in shown.items():
        description = flat_names()[name].info.description
        typer.echo(f"# {description}")
        typer.echo(f"{name} = {json.dumps(value)}")
