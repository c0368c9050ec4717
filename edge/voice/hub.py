"""The voice hub: the live relays and each study session's context, fed by the frame pipeline."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from edge.frames.records import FrameEvent
from edge.voice.context import StudyContext
from edge.voice.relay import VoiceRelay

#: Study sessions whose context is kept; one student runs one session at a time.
MAX_CONTEXTS = 16


class VoiceHub:
    """Knows which relays are live for which study session."""

    def __init__(self, allowed_topics: Sequence[str]) -> None:
        self._allowed = list(allowed_topics)
        self._contexts: OrderedDict[str, StudyContext] = OrderedDict()
        self._live: dict[str, set[VoiceRelay]] = {}
        self._devices: dict[VoiceRelay, str] = {}
        self._waiting: dict[Callable[[], Awaitable[None]], str] = {}

    def context(self, session_id: str) -> StudyContext:
        """The study context of a session (made on first use)."""
        context = self._contexts.pop(session_id, None) or StudyContext(self._allowed)
        self._contexts[session_id] = context
        while len(self._contexts) > MAX_CONTEXTS:
            self._contexts.popitem(last=False)
        return context

    def attach(self, session_id: str, relay: VoiceRelay, device_id: str | None = None) -> None:
        """A relay went live for a study session (for a paired device)."""
        self._live.setdefault(session_id, set()).add(relay)
        if device_id is not None:
            self._devices[relay] = device_id

    def detach(self, session_id: str, relay: VoiceRelay) -> None:
        """A relay ended."""
        self._devices.pop(relay, None)
        relays = self._live.get(session_id)
        if relays is not None:
            relays.discard(relay)
            if not relays:
                del self._live[session_id]

    def close_all(self, reason: str) -> None:
        """End every live relay (the daemon is stopping)."""
        for relays in list(self._live.values()):
            for relay in list(relays):
                relay.close(reason)

    def wait(self, device_id: str, on_revoke: Callable[[], Awaitable[None]]) -> None:
        """A socket of this device is open but not relaying yet: call `on_revoke` if revoked."""
        self._waiting[on_revoke] = device_id

    def unwait(self, on_revoke: Callable[[], Awaitable[None]]) -> None:
        """The socket started relaying or closed."""
        self._waiting.pop(on_revoke, None)

    async def close_devices(self, device_ids: set[str], reason: str) -> None:
        """End the relays and close the waiting sockets of these devices (tokens revoked)."""
        for relay, device in list(self._devices.items()):
            if device in device_ids:
                relay.close(reason)
        for on_revoke, device in list(self._waiting.items()):
            if device in device_ids:
                self._waiting.pop(on_revoke, None)
                await on_revoke()

    @property
    def live(self) -> int:
        """Live relays."""
        return sum(len(r) for r in self._live.values())

    async def on_frame(self, event: FrameEvent) -> None:
        """Frame-pipeline hook: steer the tutor with what the camera saw (no relay: no-op)."""
        analysis = event.analysis
        if analysis is None:
            return
        changed = self.context(event.session_id).add(
            analysis.topic, analysis.subtopic, analysis.extracted_text
        )
        if changed:
            for relay in self._live.get(event.session_id, ()):
                relay.context_changed()
