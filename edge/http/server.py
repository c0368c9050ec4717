"""The HTTP server around the app: connections per address, and protocol errors in the envelope.

aiohttp answers bytes it cannot parse as HTTP (a control character in a header, a header line
over 8,190 bytes) itself, as plain text with an ERROR and a traceback in the log, before any
middleware runs. Here they get the JSON envelope and an INFO line, and one address cannot hold
more than `max_connections_per_client` sockets, idle or busy. The daemon and the tests serve
through this same runner.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections import Counter
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from shared.schemas import ErrorBody, failure

log = logging.getLogger(__name__)


class _EnvelopeRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering malformed HTTP in the envelope."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        manager = self._manager
        if isinstance(manager, _LimitedServer) and not manager.admit(self, transport):
            self._manager = None  # so that connection_lost, and no request loop, follows
            cast(asyncio.Transport, transport).abort()
            return
        super().connection_made(transport)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        log.info("malformed request from %s: %s", request.remote, type(exc).__name__)
        body = ErrorBody(code="bad_request", message="The request is not well-formed HTTP.")
        response = web.json_response(failure(body), status=status)
        response.force_close()
        return response


class _LimitedServer(web.Server):
    """Counts sockets per peer address and hangs up on those past the limit."""

    def __init__(self, *args: Any, max_connections_per_client: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit = max_connections_per_client
        self._peers: dict[RequestHandler, str] = {}
        self._per_peer: Counter[str] = Counter()
        self.refused = 0

    def __call__(self) -> RequestHandler:
        return _EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)

    def admit(self, handler: RequestHandler, transport: asyncio.BaseTransport) -> bool:
        """Whether a new socket may stay: its address holds fewer than the limit."""
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "unknown"
        if self._per_peer[address] >= self._limit:
            self.refused += 1
            log.info("refused connection %d from %s", self._per_peer[address] + 1, address)
            return False
        self._peers[handler] = address
        self._per_peer[address] += 1
        return True

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        address = self._peers.pop(handler, None)
        if address is not None:
            self._per_peer[address] -= 1
            if not self._per_peer[address]:
                del self._per_peer[address]
        super().connection_lost(handler, exc)


class EdgeRunner(web.AppRunner):
    """An `AppRunner` whose server is the limited, enveloping one above."""

    def __init__(
        self, app: web.Application, *, max_connections_per_client: int, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._max_connections_per_client = max_connections_per_client

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # runs the app's start-up
        return _LimitedServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            max_connections_per_client=self._max_connections_per_client,
            **made._kwargs,
        )


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    max_connections_per_client: int,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve `app` until SIGINT or SIGTERM, then shut down gracefully."""
    # No handler cancellation (aiohttp's default): a frame whose phone hangs up mid-analysis
    # is still analysed and stored.
    runner = EdgeRunner(app, max_connections_per_client=max_connections_per_client, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        await stop.wait()
    finally:
        await runner.cleanup()
