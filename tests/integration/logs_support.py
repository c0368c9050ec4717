"""Processes whose every log line is kept, and the search of those lines for secrets.

For `test_no_secrets_in_logs.py`: the daemon, the cloud and the edge's commands run as their own
processes, as deployed, with stdout and stderr going to one file each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: `studylens-edge ARGS` with the root logger at DEBUG: the commands set up no logging of their
#: own, so this is what they would write if one did (httpx, the SDKs, the sync client).
EDGE_CLI_AT_DEBUG = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.DEBUG, "
    "format='%(asctime)s %(levelname)s %(name)s: %(message)s'); "
    "sys.argv[0] = 'studylens-edge'; "
    "from edge.cli import main; main()"
)

#: A `token=` with a value after it, anywhere: a query string, a form, a repr of keyword fields.
TOKEN_ASSIGNMENT = re.compile(r"token=[^\s&'\",;)>\]]", re.IGNORECASE)
#: A signature of a presigned URL (the cloud's object folder, S3's SigV4; the URL is the key) or
#: of an S3 request (`Authorization: AWS4-HMAC-SHA256 Credential=..., Signature=...`).
SIGNED_QUERY = re.compile(
    r"(?<![A-Za-z-])(sig|Signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)="
    r"[^\s&'\"]",
    re.IGNORECASE,
)


def clean_env(**values: str) -> dict[str, str]:
    """The environment without this machine's StudyLens settings or config files, plus `values`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STUDYLENS_")}
    base.pop("STATE_DIRECTORY", None)
    return base | {"PYTHONUNBUFFERED": "1"} | values


def edge_cli_command(*args: str) -> list[str]:
    """The command line of `studylens-edge ARGS` logging at DEBUG."""
    return [sys.executable, "-c", EDGE_CLI_AT_DEBUG, *args]


@dataclass
class LogFiles:
    """Every file a process wrote its output to, by name."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)

    def new(self, name: str) -> Path:
        """A fresh file for the process called `name`."""
        path = self.folder / f"{name}.log"
        self.files[name] = path
        return path

    def lines(self) -> Iterator[tuple[str, str]]:
        """(process name, line) for every line written so far."""
        for name, path in self.files.items():
            if path.exists():
                for line in path.read_text(errors="replace").splitlines():
                    yield name, line


@contextmanager
def logged_process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` with stdout and stderr to `log`; stopped (SIGTERM, then SIGKILL) at the end.

    SIGTERM first so the process logs its own shutdown, which is searched too.
    """
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def forms_of(secret: str) -> set[str]:
    """How a secret could show up in a line: as is, and each signed part of a JWT on its own.

    A JWT's first part is only `{"alg":..., "typ": "JWT"}`, the same for every token: not searched
    alone.
    """
    forms = {secret}
    parts = secret.split(".")
    if len(parts) == 3 and all(len(part) >= 16 for part in parts[1:]):
        forms.update(parts[1:])
    return forms


def pattern_of(secret: str) -> re.Pattern[str]:
    """A search for `secret` not inside a longer word (a 6-digit code inside a hash is not it)."""
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")


def leaks(secrets: dict[str, set[str]], lines: Iterable[tuple[str, str]]) -> list[str]:
    """Each line that shows one of the named secrets, or a `token=` value, with what it shows."""
    patterns = [
        (what, pattern_of(form))
        for what, values in secrets.items()
        for value in values
        for form in forms_of(value)
    ]
    found = []
    for source, line in lines:
        shown = [what for what, pattern in patterns if pattern.search(line)]
        if TOKEN_ASSIGNMENT.search(line):
            shown.append("a token= value")
        if SIGNED_QUERY.search(line):
            shown.append("a signature")
        if shown:
            found.append(f"{source}: {sorted(set(shown))}: {line}")
    return found
