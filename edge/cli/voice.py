"""`voice --local` and `audio devices`: the tutor on this computer's microphone and speaker."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edge.app import openai_key
from edge.cli.format import cell
from edge.cli.options import ConfigOption, settings_or_exit
from edge.metrics import Metrics
from edge.voice.context import StudyContext
from edge.voice.local import (
    AudioUnavailable,
    LocalPhone,
    SoundDeviceStreams,
    list_devices,
    run_local,
)
from edge.voice.tutor import configured_tutor

audio_app = typer.Typer(help="This computer's sound devices.", no_args_is_help=True)


@audio_app.command("devices", help="List the microphones and speakers PortAudio sees.")
def devices() -> None:
    """Print the sound devices."""
    try:
        found = list_devices()
    except AudioUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    table = Table(title="Sound devices")
    for column in ("index", "name", "inputs", "outputs", "default rate"):
        table.add_column(column)
    for d in found:
        table.add_row(
            str(d.index), cell(d.name), str(d.inputs), str(d.outputs), f"{d.default_rate:.0f}"
        )
    Console().print(table)


def voice(
    local: Annotated[
        bool, typer.Option("--local", help="Use this computer's microphone and speaker.")
    ] = False,
    input_device: Annotated[
        int | None, typer.Option("--input-device", help="Microphone index (audio devices).")
    ] = None,
    output_device: Annotated[
        int | None, typer.Option("--output-device", help="Speaker index (audio devices).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Talk to the tutor here; Ctrl-C ends."""
    if not local:
        typer.echo("error: only --local is supported here; phones connect to WS /ws.", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit(config)
    tutor = configured_tutor(settings, openai_key(settings), Metrics())
    if tutor is None:
        typer.echo("error: set STUDYLENS_OPENAI_API_KEY (or OPENAI_API_KEY) first.", err=True)
        raise typer.Exit(1)
    try:
        streams = SoundDeviceStreams(input_device, output_device)
    except AudioUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    phone = LocalPhone()

    async def talk() -> None:
        await run_local(tutor.relay(phone, StudyContext(settings.frames.topics)), phone, streams)

    typer.echo("Listening; speak to the tutor. Ctrl-C to stop.")
    try:
        asyncio.run(talk())
    except KeyboardInterrupt:
        typer.echo("bye")
