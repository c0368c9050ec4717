"""The signing key of access tokens: from the settings, else made once and kept in the data dir."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from cloud.settings import CloudSettings

SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


def jwt_secret(settings: CloudSettings) -> str:
    """The configured secret, else the data dir's one (created 0600 on first use).

    Creation uses O_EXCL, so two processes starting together agree on one key.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = settings.data_dir / SECRET_FILE
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return _read(path)


def _read(path: Path) -> str:
    for _ in range(100):
        value = path.read_text().strip()
        if value:
            return value
        # Another process created the file an instant ago and is still writing it.
        time.sleep(0.01)
    raise RuntimeError(f"{path} stays empty; delete it and start again")
