"""Prometheus metrics of the cloud API: requests by route and status, and sync ingest.

One app's metrics live in its own registry, so tests can run several apps in one process. When
`serve` runs several worker processes it gives them a shared folder (`PROMETHEUS_MULTIPROC_DIR`,
set before they start): each writes its values there and `/metrics`, whichever worker answers,
reports the sum over all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

#: Where `serve` puts the workers' shared values (prometheus_client reads it at import).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class CloudMetrics:
    """Every series the cloud exposes at `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "studylens_cloud_request_seconds",
            "Time to answer a request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "studylens_cloud_ingest_seconds",
            "Time to write one sync batch, its transaction and object deletions included.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.ingest_batch_items = Histogram(
            "studylens_cloud_ingest_batch_items",
            "Items per sync batch.",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500),
            registry=self.registry,
        )
        self.ingest_items = Counter(
            "studylens_cloud_ingest_items",
            "Sync items answered, by status (stored, unchanged, rejected).",
            ["status"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text format: this process's registry, or every worker's when they share a folder."""
        folder = os.environ.get(MULTIPROC_ENV)
        if folder:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
