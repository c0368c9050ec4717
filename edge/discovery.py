"""Discovery: the daemon advertises itself over mDNS/DNS-SD so the phone finds it on the Wi-Fi.

One `_studylens._tcp.local.` service per daemon, published with python-zeroconf's `AsyncZeroconf`.
The TXT records say which daemon it is (a stable id), which protocol it speaks, whether pairing is
open, where the API and the WebSocket live, and the TLS fingerprint to pin. Nothing private is in
the advertisement: anyone on a café network can read it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import ifaddr
from zeroconf import DNSQuestionType, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_studylens._tcp.local."
PROTOCOL_VERSION = "1"

TXT_ENTRY_MAX_BYTES = 255  # RFC 6763 6.1: each key=value string is at most 255 bytes
RESOLVE_TIMEOUT_MS = 1500  # how long `discover` waits for one found service's records
LISTEN_BEFORE_PROBE_SECONDS = 0.5  # hear who already uses the service type before claiming a name


@dataclass(frozen=True)
class Advert:
    """What the daemon tells the network about itself."""

    instance: str
    port: int
    device_id: str
    pairing_open: bool
    api_path: str = "/api"
    ws_path: str = "/ws"
    tls_fingerprint: str | None = None


def txt_records(advert: Advert) -> dict[str, str]:
    """The TXT records of an advert: protocol, id, pairing state, paths, and TLS pin when on."""
    records = {
        "v": PROTOCOL_VERSION,
        "id": advert.device_id,
        "pairing": "open" if advert.pairing_open else "closed",
        "api": advert.api_path,
        "ws": advert.ws_path,
    }
    if advert.tls_fingerprint is not None:
        records["tls"] = advert.tls_fingerprint
    for key, value in records.items():
        if len(f"{key}={value}".encode()) > TXT_ENTRY_MAX_BYTES:
            raise ValueError(f"TXT record {key!r} is longer than {TXT_ENTRY_MAX_BYTES} bytes")
    return records


def default_instance_name() -> str:
    """The instance name when settings name none: this computer's host name."""
    return socket.gethostname().split(".")[0] or "studylens"


def advertise_interfaces(listen_host: str) -> list[str] | None:
    """Where to advertise for a server listening on `listen_host`: all interfaces, or just it.

    A wildcard (or a host name) means every interface; a specific address means that one only,
    so a daemon bound to 127.0.0.1 is not announced to the LAN it cannot serve.
    """
    try:
        address = ipaddress.ip_address(listen_host)
    except ValueError:
        return None
    return None if address.is_unspecified else [str(address)]


def local_addresses(interfaces: list[str] | None = None) -> list[str]:
    """The addresses to publish: the given interfaces, else every non-loopback IPv4 and IPv6.

    IPv6 link-local addresses are left out: without their interface scope they are useless to
    the phone. IPv4 comes first, then IPv6, each sorted.
    """
    if interfaces is not None:
        return _ordered(interfaces)
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ipaddress.ip_address(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
            if address.is_loopback or (address.version == 6 and address.is_link_local):
                continue
            found.append(str(address))
    return _ordered(found)


def _ordered(addresses: list[str]) -> list[str]:
    parsed = {ipaddress.ip_address(a) for a in addresses}
    return [str(a) for a in sorted(parsed, key=lambda a: (a.version, a))]


Interfaces = list[str | int]


def multicast_interfaces() -> Interfaces:
    """Where to speak mDNS when told "everywhere": each IPv4 address and each IPv6 interface.

    IPv4 loopback stays in, so tools on this computer find the daemon too; IPv6 loopback is
    left out, as Linux has no multicast route on it and every send there would fail.
    """
    ipv4: set[str] = set()
    ipv6: set[int] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                ipv4.add(ip.ip)
            elif adapter.index is not None and not ipaddress.ip_address(ip.ip[0]).is_loopback:
                ipv6.add(adapter.index)
    return [*sorted(ipv4), *sorted(ipv6)]


def _ip_version(interfaces: Interfaces) -> IPVersion:
    has_v4 = any(isinstance(i, str) and ipaddress.ip_address(i).version == 4 for i in interfaces)
    has_v6 = any(isinstance(i, int) or ipaddress.ip_address(i).version == 6 for i in interfaces)
    if has_v4 and has_v6:
        return IPVersion.All
    return IPVersion.V6Only if has_v6 else IPVersion.V4Only


def _open_zeroconf(interfaces: list[str] | None) -> AsyncZeroconf:
    """A zeroconf stack on the given addresses, or on every interface (IPv4 and IPv6)."""
    chosen: Interfaces = list(interfaces) if interfaces is not None else multicast_interfaces()
    try:
        return AsyncZeroconf(interfaces=chosen, ip_version=_ip_version(chosen))
    except OSError as exc:
        ipv4 = [i for i in chosen if isinstance(i, str) and ipaddress.ip_address(i).version == 4]
        if not ipv4 or len(ipv4) == len(chosen):
            raise
        log.warning("mDNS over IPv6 unavailable (%s); using IPv4 only", exc)
        return AsyncZeroconf(interfaces=ipv4, ip_version=IPVersion.V4Only)


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
            return _ordered(self._address_source())
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
                self._zc = _open_zeroconf(self._interfaces)
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
                await self._zc.async_update_interfaces(chosen, _ip_version(chosen))
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
    aiozc = _open_zeroconf(interfaces)
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
