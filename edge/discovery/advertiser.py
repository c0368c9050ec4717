"""The advertiser: the daemon's one `_studylens._tcp.local.` service on the network.

Published with python-zeroconf's `AsyncZeroconf`, re-announced when the addresses or the advert
change, withdrawn with goodbye packets on stop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from zeroconf import DNSQuestionType
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge.discovery.interfaces import (
    ip_version,
    local_addresses,
    multicast_interfaces,
    open_zeroconf,
    ordered,
)
from edge.discovery.txt import SERVICE_TYPE, Advert, txt_records

log = logging.getLogger(__name__)

LISTEN_BEFORE_PROBE_SECONDS = 0.5  # hear who already uses the service type before claiming a name


def _ignore(**_: object) -> None:
    """A browser handler for a browse whose only purpose is filling the cache."""


def _server_name(device_id: str) -> str:
    """The daemon's own mDNS host name, stable across restarts and IP changes.

    Not the computer's host name: avahi or Bonjour may already publish that one, and two
    responders announcing different address sets for one name would flush each other's.
    """
    label = re.sub(r"[^a-z0-9]", "", device_id.lower())[:12] or "daemon"
    return f"studylens-{label}.local."


class Advertiser:
    """Advertises the daemon over mDNS with AsyncZeroconf.

    Re-announces when the addresses or the advert change; says goodbye on `stop`.
    """

    def __init__(
        self,
        advert: Advert,
        *,
        interfaces: list[str] | None = None,
        address_source: Callable[[], list[str]] | None = None,
    ) -> None:
        """Prepare to advertise `advert`; nothing is sent before `start`.

        `interfaces` None means every interface; tests pass ["127.0.0.1"]. `address_source`
        replaces the reading of the local addresses (default: `local_addresses(interfaces)`).
        """
        self._advert = advert
        self._interfaces = list(interfaces) if interfaces is not None else None
        self._address_source = address_source
        self._lock = asyncio.Lock()
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._addresses: list[str] = []

    @property
    def advert(self) -> Advert:
        """The advert currently published (or to be published at start)."""
        return self._advert

    @property
    def instance(self) -> str:
        """The instance name on the network: zeroconf may have renamed it to avoid a clash."""
        if self._info is None:
            return self._advert.instance
        return self._info.name.removesuffix(f".{SERVICE_TYPE}")

    @property
    def addresses(self) -> list[str]:
        """The addresses last published."""
        return list(self._addresses)

    @property
    def started(self) -> bool:
        """Whether the service is registered on the network."""
        return self._info is not None

    def _read_addresses(self) -> list[str]:
        if self._address_source is not None:
            return ordered(self._address_source())
        return local_addresses(self._interfaces)

    def _service_info(self, name: str) -> AsyncServiceInfo:
        advert = self._advert
        return AsyncServiceInfo(
            SERVICE_TYPE,
            name,
            port=advert.port,
            properties=dict(txt_records(advert)),
            server=_server_name(advert.device_id),
            parsed_addresses=self._addresses,
        )

    async def start(self) -> None:
        """Probe for the name (renaming on a clash), register, and announce; no-op if started."""
        async with self._lock:
            if self._info is not None:
                return
            if self._zc is None:
                self._zc = open_zeroconf(self._interfaces)
            try:
                self._addresses = self._read_addresses()
                await self._register(self._zc)
            except BaseException:
                await self._close()
                raise

    async def _register(self, zc: AsyncZeroconf) -> None:
        wanted = f"{self._advert.instance}.{SERVICE_TYPE}"
        info = self._service_info(wanted)
        if not self._addresses:
            log.warning("mDNS: no network address yet; advertising without one until it appears")
        # Browse with QM questions before and while zeroconf probes: their answers come back by
        # multicast, so a daemon already using the name lands in the cache and the probe renames
        # us. The probe's own QU answers are unicast, and a unicast datagram to port 5353 reaches
        # only one of the sockets sharing it on this host (avahi's, another daemon's), maybe not
        # ours. A responder may hold its answer back a second (RFC 6762 section 14): the head
        # start keeps that answer inside the probing window.
        listening = AsyncServiceBrowser(
            zc.zeroconf, SERVICE_TYPE, handlers=[_ignore], question_type=DNSQuestionType.QM
        )
        try:
            await asyncio.sleep(LISTEN_BEFORE_PROBE_SECONDS)
            announced = await zc.async_register_service(info, allow_name_change=True)
        finally:
            await listening.async_cancel()
        self._info = info
        if info.name != wanted:
            log.info("mDNS: %r is taken on this network; advertising as %r", wanted, info.name)
        await announced
        log.info(
            "mDNS: advertising %s on port %d at %s",
            self.instance,
            self._advert.port,
            ", ".join(self._addresses) or "no address",
        )

    async def update(self, advert: Advert) -> None:
        """Publish a changed advert (e.g. pairing opened or closed); no-op if equal."""
        async with self._lock:
            if advert == self._advert:
                return
            previous, self._advert = self._advert, advert
            if self._zc is None or self._info is None:
                return  # published as is by start
            if advert.instance != previous.instance:
                await self._withdraw(self._zc, self._info)
                await self._register(self._zc)
            else:
                await self._republish(self._zc, self._info.name)

    async def refresh_addresses(self) -> None:
        """Re-read the local addresses and re-announce if they changed."""
        async with self._lock:
            if self._zc is None or self._info is None:
                return
            if self._interfaces is None:
                # Sockets for interfaces that came up, none for those that went away; zeroconf
                # re-announces on a new one and does nothing when the set is unchanged.
                chosen = multicast_interfaces()
                await self._zc.async_update_interfaces(chosen, ip_version(chosen))
            addresses = self._read_addresses()
            if addresses == self._addresses:
                return
            log.info(
                "mDNS: addresses changed from %s to %s; re-announcing",
                ", ".join(self._addresses) or "none",
                ", ".join(addresses) or "none",
            )
            self._addresses = addresses
            await self._republish(self._zc, self._info.name)

    async def _republish(self, zc: AsyncZeroconf, name: str) -> None:
        info = self._service_info(name)
        announced = await zc.async_update_service(info)
        self._info = info
        await announced

    async def _withdraw(self, zc: AsyncZeroconf, info: AsyncServiceInfo) -> None:
        self._info = None
        goodbyes = await zc.async_unregister_service(info)
        await goodbyes

    async def stop(self) -> None:
        """Withdraw the service (goodbye packets) and close the sockets; no-op if not started."""
        async with self._lock:
            await self._close()

    async def _close(self) -> None:
        zc, info = self._zc, self._info
        if zc is None:
            return
        try:
            if info is not None:
                await self._withdraw(zc, info)
        finally:
            self._zc = None
            self._info = None
            await zc.async_close()
        log.info("mDNS: advertisement withdrawn")

    async def watch(
        self,
        interval: float = 30.0,
        advert_source: Callable[[], Awaitable[Advert]] | None = None,
    ) -> None:
        """Start if needed, then forever: every `interval`, follow address and advert changes.

        Meant to run under the daemon's Supervisor; `stop` is the owner's job after cancelling.
        """
        if advert_source is not None:
            await self.update(await advert_source())
        await self.start()
        while True:
            await asyncio.sleep(interval)
            await self.refresh_addresses()
            if advert_source is not None:
                await self.update(await advert_source())
