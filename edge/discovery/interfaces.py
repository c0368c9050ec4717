"""Where the daemon speaks mDNS: the addresses it publishes and the interfaces it listens on."""

from __future__ import annotations

import ipaddress
import logging

import ifaddr
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

log = logging.getLogger(__name__)


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
        return ordered(interfaces)
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ipaddress.ip_address(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
            if address.is_loopback or (address.version == 6 and address.is_link_local):
                continue
            found.append(str(address))
    return ordered(found)


def ordered(addresses: list[str]) -> list[str]:
    """The addresses without repeats, IPv4 first, then IPv6, each sorted."""
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


def ip_version(interfaces: Interfaces) -> IPVersion:
    """The IP versions zeroconf must speak on `interfaces`."""
    has_v4 = any(isinstance(i, str) and ipaddress.ip_address(i).version == 4 for i in interfaces)
    has_v6 = any(isinstance(i, int) or ipaddress.ip_address(i).version == 6 for i in interfaces)
    if has_v4 and has_v6:
        return IPVersion.All
    return IPVersion.V6Only if has_v6 else IPVersion.V4Only


def open_zeroconf(interfaces: list[str] | None) -> AsyncZeroconf:
    """A zeroconf stack on the given addresses, or on every interface (IPv4 and IPv6)."""
    chosen: Interfaces = list(interfaces) if interfaces is not None else multicast_interfaces()
    try:
        return AsyncZeroconf(interfaces=chosen, ip_version=ip_version(chosen))
    except OSError as exc:
        ipv4 = [i for i in chosen if isinstance(i, str) and ipaddress.ip_address(i).version == 4]
        if not ipv4 or len(ipv4) == len(chosen):
            raise
        log.warning("mDNS over IPv6 unavailable (%s); using IPv4 only", exc)
        return AsyncZeroconf(interfaces=ipv4, ip_version=IPVersion.V4Only)
