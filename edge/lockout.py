"""Lock-outs after wrong pairing codes: per client and for everyone. Pure, no I/O.

A 6-digit code has a million values; 5 tries then a lock-out that doubles each time keeps a
guesser far below one chance in a thousand over a code's lifetime, and the global limit stops a
guesser that rotates addresses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Client:
    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0


class Lockout:
    """Counts failures; `retry_after` says how long a client must wait (0: may try now)."""

    def __init__(
        self,
        *,
        per_client: int = 5,
        first_lockout: float = 30.0,
        max_lockout: float = 3600.0,
        global_failures: int = 20,
        global_window: float = 600.0,
        global_lockout: float = 60.0,
    ) -> None:
        self.per_client = per_client
        self.first_lockout = first_lockout
        self.max_lockout = max_lockout
        self.global_failures = global_failures
        self.global_window = global_window
        self.global_lockout = global_lockout
        self._clients: dict[str, _Client] = {}
        self._recent: list[float] = []
        self._global_until = 0.0

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until `client` may try again."""
        mine = self._clients.get(client)
        own = mine.locked_until - now if mine else 0.0
        return max(0.0, own, self._global_until - now)

    def failed(self, client: str, now: float) -> None:
        """A wrong code from `client`."""
        mine = self._clients.setdefault(client, _Client())
        mine.failures += 1
        if mine.failures >= self.per_client:
            lock = min(self.max_lockout, self.first_lockout * 2**mine.lockouts)
            mine.locked_until = now + lock
            mine.lockouts += 1
            mine.failures = 0
        self._recent = [t for t in self._recent if t > now - self.global_window] + [now]
        if len(self._recent) >= self.global_failures:
            self._global_until = now + self.global_lockout
            self._recent = []

    def succeeded(self, client: str) -> None:
        """A right code: the client's slate is clean."""
        self._clients.pop(client, None)
