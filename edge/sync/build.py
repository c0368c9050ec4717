"""The one place the sync parts are built from the settings: the daemon and the CLI both call it.

So `studylens-edge sync now` sends exactly as the daemon's own worker would (same batch size,
upload concurrency, bandwidth cap, retention and timeout), and `link`/`unlink` talk to the
cloud through the same HTTP client.
"""

from __future__ import annotations

import httpx

from edge import __version__
from edge.frames.originals import OriginalStore
from edge.metrics import Metrics
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync.client import CloudClient
from edge.sync.credentials import CredentialStore
from edge.sync.worker import SyncWorker
from shared.clock import Clock

#: The folder of the data dir the originals live in.
ORIGINALS_FOLDER = "images"
#: Of every request to the cloud, the worker's and the CLI's alike.
CLOUD_TIMEOUT_SECONDS = 30.0


def credential_store(settings: EdgeSettings) -> CredentialStore:
    """The link file of this data dir."""
    return CredentialStore(settings.data_dir)


def original_store(settings: EdgeSettings) -> OriginalStore:
    """The originals of this data dir."""
    return OriginalStore(settings.data_dir / ORIGINALS_FOLDER)


def cloud_http(settings: EdgeSettings) -> httpx.AsyncClient:
    """The HTTP client every call to the cloud goes through (the caller closes it)."""
    return httpx.AsyncClient(
        timeout=CLOUD_TIMEOUT_SECONDS,
        headers={"User-Agent": f"studylens-edge/{__version__}"},
    )


def cloud_client(settings: EdgeSettings, http: httpx.AsyncClient, clock: Clock) -> CloudClient:
    """Authenticated calls for this data dir's link."""
    return CloudClient(http, credential_store(settings), clock)


def sync_worker(
    settings: EdgeSettings,
    *,
    store: Store,
    http: httpx.AsyncClient,
    clock: Clock,
    originals: OriginalStore | None = None,
    credentials: CredentialStore | None = None,
    metrics: Metrics | None = None,
) -> SyncWorker:
    """The sync worker for these settings (the daemon passes the originals and link it shares)."""
    return SyncWorker(
        store,
        originals or original_store(settings),
        credentials or credential_store(settings),
        http,
        clock,
        settings.sync,
        metrics,
    )
