"""Back-off after wrong pairing codes, per client address. Pure, no I/O.

There is deliberately no lock for everyone: strangers could then refuse the owner's own code.
What keeps brute force hopeless across any number of addresses is the code's own guess budget
(`edge.pairing.GUESS_BUDGET`); this back-off only slows one address down.
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
        max_clients: int = 10_000,
    ) -> None:
        self.per_client = per_client
        self.first_lockout = first_lockout
        self.max_lockout = max_lockout
        self.max_clients = max_clients
        self._clients: dict[str, _Client] = {}

    @property
    def clients(self) -> int:
        """Addresses remembered now."""
        return len(self._clients)

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until `client` may try again."""
        mine = self._clients.get(client)
        return max(0.0, mine.locked_until - now) if mine else 0.0

    def failed(self, client: str, now: float) -> None:
        """A wrong code from `client`."""
        if client not in self._clients and len(self._clients) >= self.max_clients:
            self._forget_unlocked(now)
        mine = self._clients.setdefault(client, _Client())
        mine.failures += 1
        if mine.failures >= self.per_client:
            lock = min(self.max_lockout, self.first_lockout * 2**mine.lockouts)
            mine.locked_until = now + lock
            mine.lockouts += 1
            mine.failures = 0

    def succeeded(self, client: str) -> None:
        """A right code: the client's slate is clean."""
        self._clients.pop(client, None)

    def _forget_unlocked(self, now: float) -> None:
        # Bounded memory against address rotation; locked clients are kept.
        self._clients = {k: c for k, c in self._clients.items() if c.locked_until > now}
