"""What the edge and cloud command lines share: settings loading that fails with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

S = TypeVar("S")


def settings_or_exit(
    load: Callable[..., S], missing: type[Exception], config_file: Path | None, **flags: Any
) -> S:
    """`load(config_file, **flags)`, or print what is wrong and exit with status 2."""
    try:
        return load(config_file, **flags)
    except missing as exc:
        typer.echo(f"error: {exc}", err=True)
    except ValidationError as exc:
        typer.echo("error: invalid settings:", err=True)
        for err in exc.errors(include_url=False):
            where = ".".join(str(part) for part in err["loc"])
            typer.echo(f"  {where}: {err['msg']}", err=True)
    except ValueError as exc:  # a malformed TOML file
        typer.echo(f"error: cannot read the config file: {exc}", err=True)
    raise typer.Exit(2)
