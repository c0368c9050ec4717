"""The device's cloud credentials, kept in the data dir, readable by the daemon's user only.

Every save replaces the file atomically (write, fsync, rename), so a crash leaves either the old
refresh token or the new one, never half of either. `load` and `save` block (a read, two fsyncs):
the CLI calls them, async code awaits `read` and `write`, which run them in a thread.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from edge.files import write_private
from edge.sync.errors import CredentialsUnreadable

FILE_NAME = "cloud-link.json"


class Credentials(BaseModel):
    """What linking gave this edge."""

    model_config = ConfigDict(frozen=True)

    cloud_url: str
    user_id: str
    device_id: str
    access_token: str
    access_expires_at: AwareDatetime
    refresh_token: str
    refresh_expires_at: AwareDatetime
    linked_at: AwareDatetime

    def access_fresh(self, now: datetime, margin_seconds: float) -> bool:
        """Whether the access token stays valid for at least `margin_seconds`."""
        return (self.access_expires_at - now).total_seconds() > margin_seconds


class CredentialStore:
    """`cloud-link.json` in the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> Credentials | None:
        """The saved credentials, or None when this edge is not linked."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return Credentials.model_validate_json(text)
        except ValidationError as exc:
            raise CredentialsUnreadable(f"{self.path} is damaged; link again") from exc

    def save(self, credentials: Credentials) -> None:
        """Replace the file atomically, mode 0600 (its folder 0700)."""
        write_private(self.path, credentials.model_dump_json(indent=2).encode(), durable=True)

    async def read(self) -> Credentials | None:
        """`load`, in a thread."""
        return await asyncio.to_thread(self.load)

    async def write(self, credentials: Credentials) -> None:
        """`save`, in a thread."""
        await asyncio.to_thread(self.save, credentials)

    def delete(self) -> bool:
        """Forget the link; True if there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
