"""Helpers the tests import: a hand-driven clock, local-time parsing, typed test clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.http.context import SERVICES, Services

#: A zone with an offset and DST, so local midnight is never UTC midnight.
ZONE_NAME = "Europe/Berlin"
ZONE: tzinfo = ZoneInfo(ZONE_NAME)


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        """Return the current fake time."""
        return self.current

    def advance(self, seconds: float) -> datetime:
        """Move time forward and return the new now."""
        self.current += timedelta(seconds=seconds)
        return self.current


def berlin(text: str) -> datetime:
    """Parse local Berlin wall-clock time (`2026-11-25 10:00`) into aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(UTC)


AppClient = TestClient[web.Request, web.Application]
StartApp = Callable[..., Awaitable[AppClient]]


def services_of(client: AppClient) -> Services:
    """Reach the wired services of the app behind a test client."""
    return client.app[SERVICES]
