"""The browser: the StudyLens daemons on this network and their TXT records (`discover`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from zeroconf import DNSQuestionType, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo

from edge.discovery.interfaces import open_zeroconf
from edge.discovery.txt import SERVICE_TYPE

log = logging.getLogger(__name__)

RESOLVE_TIMEOUT_MS = 1500  # how long `discover` waits for one found service's records


@dataclass(frozen=True)
class Found:
    """A daemon seen on the network."""

    instance: str
    host: str
    addresses: list[str]
    port: int
    txt: dict[str, str]


async def discover(
    timeout: float = 3.0,  # noqa: ASYNC109 - how long to listen, not a deadline to cancel at
    *,
    interfaces: list[str] | None = None,
) -> list[Found]:
    """Browse for StudyLens daemons for `timeout` seconds and return those that resolved."""
    aiozc = open_zeroconf(interfaces)
    names: set[str] = set()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            names.discard(name)
        else:
            names.add(name)

    try:
        # QM questions: answers come by multicast, so they reach us even when another program on
        # this computer (avahi, a daemon) shares port 5353 and would catch a unicast answer.
        browser = AsyncServiceBrowser(
            aiozc.zeroconf, SERVICE_TYPE, handlers=[on_change], question_type=DNSQuestionType.QM
        )
        try:
            await asyncio.sleep(timeout)
        finally:
            await browser.async_cancel()
        resolved = await asyncio.gather(*(_resolve(aiozc.zeroconf, n) for n in sorted(names)))
    finally:
        await aiozc.async_close()
    return sorted((f for f in resolved if f is not None), key=lambda f: f.instance)


async def _resolve(zc: Zeroconf, name: str) -> Found | None:
    info = AsyncServiceInfo(SERVICE_TYPE, name)
    resolved = await info.async_request(zc, RESOLVE_TIMEOUT_MS, DNSQuestionType.QM)
    if not resolved or info.port is None:
        log.debug("mDNS: %s did not resolve", name)
        return None
    return Found(
        instance=name.removesuffix(f".{SERVICE_TYPE}"),
        host=info.server or "",
        addresses=info.parsed_scoped_addresses(),
        port=info.port,
        txt={key: value or "" for key, value in info.decoded_properties.items()},
    )
