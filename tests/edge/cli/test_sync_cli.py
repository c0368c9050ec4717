"""`studylens-edge sync now` builds its worker from the settings as the daemon does."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils
from pydantic import SecretStr
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.sync import outbox
from edge.sync.credentials import Credentials, CredentialStore
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, StartApp, services_of, upload


@pytest.fixture
async def vision_client(
    start_app: StartApp, openai_peer: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> AppClient:
    """The edge with the fake vision model, no sync worker of its own, no STUDYLENS_* env."""
    for name in list(os.environ):
        if name.startswith("STUDYLENS_") and not name.startswith("STUDYLENS_TEST_"):
            monkeypatch.delenv(name)
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_timeout_seconds=5,
        sync_enabled=False,
    )


def unreachable_cloud() -> str:
    """A loopback URL nothing listens on: the command must not need the cloud at all."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_sync_now_applies_the_retention_setting(
    vision_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old original the cloud confirmed is deleted by `sync now` under a retention setting.

    With everything delivered, a pass asks the cloud nothing: only the retention the settings
    ask for can remove the file (the command once built its worker with the batch size only).
    """
    services = services_of(vision_client)
    key = (await upload(vision_client, jpeg(640, 480)))["imageKey"]

    def confirmed_long_ago(db: sqlite_utils.Database) -> None:
        db.execute("UPDATE learning_events SET captured_at = '2020-01-01T00:00:00.000Z'")
        db.execute("UPDATE sync_outbox SET delivered_revision = revision")
        outbox.mark_images(db, [key], "uploaded_at", "2020-01-01T00:00:01.000Z")

    await services.store.run(confirmed_long_ago)
    now = datetime.now(UTC)
    CredentialStore(services.settings.data_dir).save(
        Credentials(
            cloud_url=unreachable_cloud(),
            user_id="user-1",
            device_id="device-1",
            access_token="access",  # noqa: S106 - never sent
            access_expires_at=now + timedelta(minutes=15),
            refresh_token="refresh",  # noqa: S106
            refresh_expires_at=now + timedelta(days=30),
            linked_at=now,
        )
    )
    monkeypatch.setenv("STUDYLENS_ORIGINALS_RETENTION_DAYS", "1")
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli_app,
        ["sync", "now", "--data-dir", str(services.settings.data_dir)],
    )
    assert result.exit_code == 0, result.output
    assert "sent 0 facts and 0 images" in result.output
    assert not services.originals.path_for(key).exists()
