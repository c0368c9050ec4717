"""The sync figures the CLI, `/api/sync/status` and `/healthz` show."""

from __future__ import annotations

import sqlite_utils

from edge.sync import outbox
from edge.sync.credentials import Credentials, CredentialStore
from edge.sync.errors import CredentialsUnreadable
from shared.sync import SyncStatus


def read_status(
    db: sqlite_utils.Database, credentials: CredentialStore, *, enabled: bool
) -> SyncStatus:
    """Backlog and last outcomes from the database, link from the credentials file."""
    backlog = outbox.backlog(db)
    state = outbox.get_state(db)
    linked: Credentials | None
    try:
        linked = credentials.load()
    except CredentialsUnreadable:
        linked = None
    return SyncStatus(
        enabled=enabled,
        linked=linked is not None,
        cloud_url=linked.cloud_url if linked else None,
        device_id=linked.device_id if linked else None,
        pending_facts=backlog.facts,
        pending_images=backlog.images,
        rejected_facts=backlog.rejected,
        pending_deletions=backlog.deletions,
        last_success_at=state.get("last_success_at"),
        last_error=state.get("last_error"),
        last_error_at=state.get("last_error_at"),
        next_retry_at=state.get("next_retry_at"),
        failures=int(state.get("failures", "0")),
    )
