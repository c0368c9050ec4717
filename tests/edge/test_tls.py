"""Optional TLS: the self-signed certificate, kept, served, and its fingerprint pinned."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from edge import pairing
from edge.app import create_app
from edge.http.context import SERVICES
from edge.settings import EdgeSettings
from edge.tls import ensure_certificate, server_context
from tests.support import FakeClock, StartApp, data_of, services_of


def test_certificate_is_made_once_and_kept(tmp_path: Path) -> None:
    """A second start reuses the certificate: the pinned fingerprint never changes by itself."""
    first = ensure_certificate(tmp_path)
    second = ensure_certificate(tmp_path)
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint.split(":")) == 32


def test_private_key_is_readable_by_the_daemon_only(tmp_path: Path) -> None:
    """The key file is mode 0600."""
    certificate = ensure_certificate(tmp_path)
    assert certificate.key_path.stat().st_mode & 0o777 == 0o600


async def test_served_certificate_matches_the_fingerprint(
    settings: EdgeSettings, clock: FakeClock
) -> None:
    """What a phone sees on the wire hashes to the fingerprint it was given when pairing."""
    tls_settings = settings.updated(tls=True)
    app = create_app(tls_settings, clock)
    certificate = app[SERVICES].certificate
    assert certificate is not None
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(certificate))
    await site.start()
    try:
        port = runner.addresses[0][1]
        client_context = ssl.create_default_context()
        client_context.check_hostname = False
        client_context.verify_mode = ssl.CERT_NONE  # pinning, not a CA, is the check here
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        await writer.wait_closed()
    finally:
        await runner.cleanup()
    assert hashlib.sha256(der).digest().hex(":").upper() == certificate.fingerprint


async def test_pairing_answer_carries_the_fingerprint(
    start_app: StartApp, clock: FakeClock
) -> None:
    """With TLS on, POST /api/pair tells the phone which certificate to pin."""
    client = await start_app(tls=True, openai_api_key=SecretStr("unused"))
    s = services_of(client)
    code = await s.store.run(lambda db: pairing.new_code(db, clock.now(), timedelta(minutes=5)))
    data = await data_of(
        await client.post("/api/pair", json={"code": code.code, "deviceName": "phone"}), 201
    )
    assert s.certificate is not None
    assert data["tlsFingerprint"] == s.certificate.fingerprint
