"""Benchmark of sync ingest into PostgreSQL: items per second and batch latency.

The API runs as `studylens-cloud serve` (one process, then two uvicorn workers) on the
PostgreSQL the test command starts; each round creates fresh accounts and links an edge per
sender through the real device code flow, then several senders post 500-item batches of new facts
(sessions, topic segments, learning events, bookmarks, help requests) as fast as answers come
back. Bodies are encoded before timing; the client, the API and PostgreSQL share the machine.

Run: scripts/services.sh start && . .services/env &&
     .venv/bin/python scripts/bench/sync_ingest.py [--batches 60] [--senders 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.clock import SystemClock
from tests.cloud.support import data_of, link_device, running_cloud
from tests.fakes.google import CLIENT_ID, FakeGoogle

BATCH = 500


def batch_body(start: datetime) -> bytes:
    """500 new facts in the proportions an edge produces them (mostly events and segments)."""
    items: list[dict[str, Any]] = []
    while len(items) < BATCH:
        sid = str(uuid.uuid4())
        stamp = start.isoformat()
        items.append(
            {
                "id": sid,
                "kind": "session",
                "payload": {"localDate": "2026-11-25", "startedAt": stamp, "lastActivityAt": stamp},
            }
        )
        for n in range(60):
            moment = (start + timedelta(seconds=3 * n)).isoformat()
            items.append(
                {
                    "id": str(uuid.uuid4()),
                    "kind": "learning_event",
                    "payload": {
                        "sessionId": sid,
                        "localDate": "2026-11-25",
                        "capturedAt": moment,
                        "outcome": "analysed",
                        "source": "gpt-4.1",
                        "topic": "Biology",
                        "subtopic": "Cell division",
                        "isStudying": True,
                        "isActive": n % 3 == 0,
                        "isDistracted": False,
                        "extractedText": "Mitosis: prophase, metaphase, anaphase. " * 4,
                        "imageSha256": uuid.uuid4().hex * 2,
                    },
                }
            )
        for n in range(15):
            moment = (start + timedelta(seconds=60 * n)).isoformat()
            items.append(
                {
                    "id": str(uuid.uuid4()),
                    "kind": "topic_segment",
                    "revision": 2,
                    "payload": {
                        "sessionId": sid,
                        "topic": "Biology",
                        "localDate": "2026-11-25",
                        "startedAt": moment,
                        "lastSeenAt": moment,
                        "endedAt": moment,
                        "durationSeconds": 60,
                        "activeCount": 5,
                        "passiveCount": 14,
                        "distractedCount": 1,
                    },
                }
            )
        items.append(
            {
                "id": str(uuid.uuid4()),
                "kind": "bookmark",
                "payload": {"sessionId": sid, "note": "review", "createdAt": stamp},
            }
        )
        items.append(
            {
                "id": str(uuid.uuid4()),
                "kind": "help_request",
                "payload": {"sessionId": sid, "localDate": "2026-11-25", "createdAt": stamp},
            }
        )
    return json.dumps({"items": items[:BATCH]}).encode()


async def edge_tokens(base_url: str, google: FakeGoogle, senders: int) -> list[str]:
    """A signed-in student with one linked edge per sender; their sync access tokens."""
    tokens = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for n in range(senders):
            signed = await client.post(
                "/api/auth/google",
                json={"idToken": google.token(f"bench-{uuid.uuid4()}", f"s{n}@example.com")},
            )
            client.cookies.clear()
            device = await link_device(client, data_of(signed), f"bench edge {n}")
            tokens.append(device["accessToken"])
    return tokens


async def measure(base_url: str, tokens: list[str], bodies: list[bytes]) -> dict[str, float]:
    """Send every body once, `len(tokens)` at a time; items/s and latency percentiles."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def sender(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers) as client:
            while not queue.empty():
                body = queue.get_nowait()
                began = time.perf_counter()
                response = await client.post("/api/sync/batch", content=body)
                latencies.append((time.perf_counter() - began) * 1000)
                stored = response.json()["data"]["stored"]
                if stored != BATCH:
                    raise RuntimeError(f"only {stored} of {BATCH} items stored")

    began = time.perf_counter()
    await asyncio.gather(*(sender(t) for t in tokens))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "items_per_second": len(bodies) * BATCH / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "max_ms": latencies[-1],
    }


async def run(batches: int, senders: int, warmup: int) -> None:
    """Measure with one API process and with two; print a markdown table."""
    database_url = os.environ.get("STUDYLENS_TEST_DATABASE_URL")
    if not database_url:
        raise SystemExit("start the services first: scripts/services.sh start && . .services/env")
    google = FakeGoogle(SystemClock())
    await google.start()
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    python = sys.version.split()[0]
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, python {python}")
    print(f"{batches} batches of {BATCH} new items, {senders} concurrent senders, {warmup} warm-up")
    print("\n| API processes | items/s | batch p50 ms | batch p99 ms | max ms |")
    print("|---|---|---|---|---|")
    try:
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as data:
                env = {
                    "STUDYLENS_CLOUD_DATA_DIR": data,
                    "STUDYLENS_CLOUD_DATABASE_URL": database_url,
                    "STUDYLENS_CLOUD_GOOGLE_CLIENT_IDS": CLIENT_ID,
                    "STUDYLENS_CLOUD_GOOGLE_JWKS_URL": google.jwks_url,
                    "STUDYLENS_CLOUD_JWT_SECRET": "bench-secret-0123456789abcdef0123456789",
                    "STUDYLENS_CLOUD_DATABASE_POOL_SIZE": "8",
                }
                async with running_cloud(env, workers=workers) as [server]:
                    tokens = await edge_tokens(server.base_url, google, senders)
                    await measure(
                        server.base_url, tokens, [batch_body(start) for _ in range(warmup)]
                    )
                    bodies = [batch_body(start) for _ in range(batches)]
                    figures = await measure(server.base_url, tokens, bodies)
            print(
                f"| {workers} | {figures['items_per_second']:,.0f} | {figures['p50_ms']:.0f} "
                f"| {figures['p99_ms']:.0f} | {figures['max_ms']:.0f} |"
            )
    finally:
        await google.close()


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="timed batches per setup")
    parser.add_argument("--senders", type=int, default=4, help="concurrent edges sending")
    parser.add_argument("--warmup", type=int, default=8, help="untimed batches first")
    args = parser.parse_args()
    asyncio.run(run(args.batches, args.senders, args.warmup))


if __name__ == "__main__":
    main()
