"""Chaos: 500+ frames while the cloud API and the edge daemon are killed and restarted.

At the end the cloud must hold exactly the edge's facts (same ids and revisions, nothing missing,
nothing extra), every original must be in S3, and the daily topic totals must agree. The counts
compared are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from cloud.api.app import s3_client
from cloud.settings import CloudSettings
from edge.settings import load_settings
from edge.store import open_database
from shared.clock import SystemClock
from tests.cloud.support import cloud_env, data_of, free_port, link_edge, wait_until_ready
from tests.fakes.google import FakeGoogle
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import authorized, pair_device

FRAMES = 520
TOPICS = ("Biology", "Math", "Chemistry", "English")
#: frame index -> what happens before that frame is posted
SCHEDULE = {
    80: "kill cloud",
    130: "start cloud",
    180: "kill edge",
    260: "stop cloud",
    300: "start cloud",
    350: "kill edge",
    420: "kill cloud",
    460: "start cloud",
}
FACT_TABLES = {
    "sessions": "study_sessions",
    "learning_events": "learning_events",
    "topic_segments": "topic_segments",
    "bookmarks": "bookmarks",
    "help_requests": "help_requests",
}


class Process:
    """A server process that can be killed and started again on the same port."""

    def __init__(self, command: list[str], env: dict[str, str], base_url: str, ready: str) -> None:
        self.command = command
        self.env = env
        self.base_url = base_url
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start and wait until it answers its readiness route."""
        self.process = subprocess.Popen(self.command, env=self.env)  # noqa: ASYNC220
        await wait_until_ready(self.base_url, self.process, self.ready)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` and wait for the process to end."""
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=30)


def clean_env(**values: str) -> dict[str, str]:
    """The environment without any StudyLens settings of the machine, plus `values`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STUDYLENS_")}
    base.pop("STATE_DIRECTORY", None)
    return base | values


@asynccontextmanager
async def processes(*servers: Process) -> AsyncIterator[None]:
    """Make sure every server is gone when the test ends."""
    try:
        yield
    finally:
        for server in servers:
            if server.process is not None and server.process.poll() is None:
                server.process.kill()
                server.process.wait()


async def post_frame(http: httpx.AsyncClient, data: bytes) -> dict[str, Any]:
    """Post one frame as the phone does, retrying while the daemon is down (60 s at most)."""
    for _ in range(300):
        try:
            response = await http.post(
                "/api/upload-and-analyze", files={"image": ("frame.jpg", data, "image/jpeg")}
            )
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 200:
            answer: dict[str, Any] = response.json()["data"]
            return answer
        await asyncio.sleep(0.2)
    raise AssertionError("the daemon did not take a frame for 60 s")


async def wait_for_empty_outbox(http: httpx.AsyncClient) -> dict[str, Any]:
    """Poll the edge as its owner until nothing is pending (120 s at most)."""
    status: dict[str, Any] = {}
    for _ in range(600):
        await http.post("/api/sync/now")
        status = data_of(await http.get("/api/sync/status"))
        if status["pendingFacts"] == 0 and status["pendingImages"] == 0:
            return status
        await asyncio.sleep(0.2)
    raise AssertionError(f"the outbox did not drain: {status}")


async def cloud_rows(database_url: str, user_id: str) -> dict[str, dict[str, int]]:
    """Each fact table's id -> revision for the user, straight from PostgreSQL."""
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        found = {}
        for edge_table, cloud_table in FACT_TABLES.items():
            query = f"SELECT id, revision FROM {cloud_table} WHERE user_id = $1"  # noqa: S608
            rows = await connection.fetch(query, user_id)
            found[edge_table] = {row["id"]: row["revision"] for row in rows}
        return found
    finally:
        await connection.close()


def edge_rows(
    database: Path,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]], set[str]]:
    """Each fact table's id -> outbox revision, closed topic totals by local day, image hashes.

    The days are those the edge recorded its segments on (its own clock and zone), so a run
    that crosses local midnight compares both days, whatever the test's own clock says.
    """
    with closing(open_database(database)) as db:
        found: dict[str, dict[str, int]] = {}
        for table, kind in (
            ("sessions", "session"),
            ("learning_events", "learning_event"),
            ("topic_segments", "topic_segment"),
            ("bookmarks", "bookmark"),
            ("help_requests", "help_request"),
        ):
            rows = db.execute(
                f"SELECT t.id, o.revision FROM {table} t"  # noqa: S608 - fixed names
                " JOIN sync_outbox o ON o.kind = ? AND o.fact_id = t.id",
                [kind],
            ).fetchall()
            found[table] = {row[0]: row[1] for row in rows}
        totals: dict[str, dict[str, int]] = {}
        for day, topic, seconds in db.execute(
            "SELECT local_date, topic, sum(duration_seconds) FROM daily_topic_stats"
            " GROUP BY local_date, topic"
        ):
            totals.setdefault(day, {})[topic] = round(seconds)
        images = {
            row[0].split(".")[0]
            for row in db.execute(
                "SELECT DISTINCT image_key FROM learning_events WHERE image_key IS NOT NULL"
            )
        }
    return found, totals, images


@pytest.mark.timeout(600)
async def test_nothing_is_lost_or_doubled_through_crashes(
    live_google: FakeGoogle,
    pg_database_url: str,
    s3_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Kill the cloud four times and the edge twice; the two sides still agree exactly."""
    peer = FakeOpenAI()
    await peer.start()
    try:
        await run_chaos(peer, live_google, pg_database_url, s3_settings, tmp_path)
    finally:
        await peer.stop()


async def run_chaos(
    peer: FakeOpenAI,
    live_google: FakeGoogle,
    pg_database_url: str,
    s3_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    """The chaos run and its comparison."""
    cloud_port, edge_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    cloud = Process(
        [
            str(bin_dir / "studylens-cloud"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(cloud_port),
        ],
        clean_env(
            **cloud_env(
                tmp_path / "cloud",
                live_google,
                s3_settings,
                database_url=pg_database_url,
                jwt_secret="chaos-secret-0123456789abcdef0123456789",  # noqa: S106 - test-only
                log_level="warning",
            )
        ),
        f"http://127.0.0.1:{cloud_port}",
        "/readyz",
    )
    edge_data = tmp_path / "edge"
    edge_command = [str(bin_dir / "studylens-edge"), "serve", "--host", "127.0.0.1", "--no-mdns"]
    edge = Process(
        [*edge_command, "--port", str(edge_port), "--data-dir", str(edge_data)],
        clean_env(
            XDG_CONFIG_HOME=str(tmp_path / "xdg"),
            STUDYLENS_OPENAI_API_KEY="sk-chaos",
            STUDYLENS_OPENAI_BASE_URL=peer.base_url,
            STUDYLENS_TIMEZONE="Europe/Berlin",
            STUDYLENS_SYNC_IDLE_SECONDS="0.2",
            STUDYLENS_SYNC_BACKOFF_CAP_SECONDS="1",
            STUDYLENS_LOG_LEVEL="WARNING",
        ),
        f"http://127.0.0.1:{edge_port}",
        "/healthz",
    )
    settings = load_settings(data_dir=edge_data)
    token = pair_device(settings)
    async with processes(cloud, edge):
        await cloud.start()
        student = await link_edge(cloud.base_url, live_google, settings.data_dir, SystemClock())
        await edge.start()
        async with httpx.AsyncClient(
            base_url=edge.base_url, headers=authorized(token), timeout=30
        ) as phone:
            last: dict[str, Any] = {}
            for index in range(FRAMES):
                action = SCHEDULE.get(index)
                if action == "kill cloud":
                    cloud.kill()
                elif action == "stop cloud":
                    cloud.kill(signal.SIGTERM)
                elif action == "start cloud":
                    await cloud.start()
                elif action == "kill edge":
                    edge.kill()
                    await edge.start()
                peer.analysis["topic"] = TOPICS[(index // 60) % len(TOPICS)]
                last = await post_frame(phone, jpeg(320, 240, seed=index))
                if index % 100 == 50:
                    note = {"sessionId": last["sessionId"], "note": f"frame {index}"}
                    data_of(await phone.post("/api/bookmark", json=note), 201)
                    helped = {"sessionId": last["sessionId"]}
                    data_of(await phone.post("/api/help-count", json=helped), 201)
            data_of(await phone.post(f"/api/session/{last['sessionId']}/end"))
        # Sync is the owner's: this computer, without a token (open_on_localhost).
        async with httpx.AsyncClient(base_url=edge.base_url, timeout=30) as owner:
            await wait_for_empty_outbox(owner)
        edge.kill(signal.SIGTERM)
        edge_facts, edge_totals, edge_images = edge_rows(settings.database_path)
        cloud_totals = {}
        async with httpx.AsyncClient(base_url=cloud.base_url) as http:
            me = {"Authorization": f"Bearer {student['accessToken']}"}
            for day in edge_totals:
                answer = data_of(await http.get(f"/api/topic/daily?date={day}", headers=me))
                cloud_totals[day] = {s["topic"]: s["durationSeconds"] for s in answer["topicStats"]}

    cloud_facts = await cloud_rows(pg_database_url, student["userId"])
    client = s3_client(CloudSettings(**s3_settings))
    listed = client.list_objects_v2(
        Bucket=s3_settings["s3_bucket"], Prefix=f"users/{student['userId']}/images/"
    )
    s3_images = {item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", [])}
    print("\nchaos: compared edge and cloud")
    for table in FACT_TABLES:
        print(f"  {table:16} edge {len(edge_facts[table]):4}  cloud {len(cloud_facts[table]):4}")
    print(f"  {'images':16} edge {len(edge_images):4}  s3    {len(s3_images):4}")
    print(f"  topic totals     edge {edge_totals}  cloud {cloud_totals}")

    assert len(edge_facts["learning_events"]) >= FRAMES
    assert edge_totals, "the edge recorded no study time"
    for table in FACT_TABLES:
        assert cloud_facts[table] == edge_facts[table], table
    assert s3_images == edge_images
    assert cloud_totals == edge_totals
