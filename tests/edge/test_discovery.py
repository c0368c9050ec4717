"""mDNS discovery: the advertisement as a real python-zeroconf browser on loopback sees it.

Every test advertises under its own random instance name, so daemons or test runs elsewhere on
this machine cannot be mistaken for the one under test.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Protocol

import ifaddr
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner
from zeroconf import DNSQuestionType, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge.cli.discover import discover as discover_command
from edge.cli.discover import found_table
from edge.discovery import (
    PROTOCOL_VERSION,
    SERVICE_TYPE,
    Advert,
    Advertiser,
    Found,
    advertise_interfaces,
    discover,
    local_addresses,
    txt_records,
)

LOOPBACK = ["127.0.0.1"]
WAIT_SECONDS = 10.0
FINGERPRINT = "AB:" * 31 + "CD"  # the shape of a SHA-256 certificate fingerprint


def unique(prefix: str = "lens") -> str:
    """An instance name no other test or machine uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_advert(
    instance: str | None = None, *, pairing_open: bool = True, tls: str | None = None
) -> Advert:
    """An advert with a fresh device id."""
    return Advert(
        instance=instance or unique(),
        port=8765,
        device_id=str(uuid.uuid4()),
        pairing_open=pairing_open,
        tls_fingerprint=tls,
    )


def full_name(instance: str) -> str:
    """The DNS-SD service name of an instance."""
    return f"{instance}.{SERVICE_TYPE}"


class Browser:
    """A python-zeroconf browser on loopback that records every change it sees."""

    def __init__(self, aiozc: AsyncZeroconf) -> None:
        self.aiozc = aiozc
        self.events: list[tuple[str, ServiceStateChange]] = []
        self._changed = asyncio.Event()

    def on_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        """Record one browser event."""
        self.events.append((name, state_change))
        self._changed.set()

    def count(self, instance: str, change: ServiceStateChange) -> int:
        """How often `change` was seen for `instance`."""
        return self.events.count((full_name(instance), change))

    async def wait_for(self, instance: str, change: ServiceStateChange, times: int = 1) -> None:
        """Wait until `change` has been seen `times` times for `instance`."""
        async with asyncio.timeout(WAIT_SECONDS):
            while self.count(instance, change) < times:
                self._changed.clear()
                await self._changed.wait()

    async def resolve(self, instance: str) -> AsyncServiceInfo:
        """The instance's SRV, TXT and address records, asked over the network."""
        info = AsyncServiceInfo(SERVICE_TYPE, full_name(instance))
        assert await info.async_request(self.aiozc.zeroconf, 3000, DNSQuestionType.QM)
        return info

    async def txt(self, instance: str) -> dict[str, str | None]:
        """The instance's TXT records."""
        return (await self.resolve(instance)).decoded_properties


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A real zeroconf browser for the StudyLens service type, on loopback."""
    aiozc = AsyncZeroconf(interfaces=LOOPBACK)
    seen = Browser(aiozc)
    service_browser = AsyncServiceBrowser(
        aiozc.zeroconf, SERVICE_TYPE, handlers=[seen.on_change], question_type=DNSQuestionType.QM
    )
    yield seen
    await service_browser.async_cancel()
    await aiozc.async_close()


class Advertise(Protocol):
    """Starts an advertiser on loopback."""

    def __call__(
        self, advert: Advert, *, address_source: Callable[[], list[str]] | None = None
    ) -> Awaitable[Advertiser]:
        """Start advertising `advert`."""
        ...


@pytest.fixture
async def advertise() -> AsyncIterator[Advertise]:
    """Start an advertiser on loopback; every one started is stopped after the test."""
    started: list[Advertiser] = []

    async def start(
        advert: Advert, *, address_source: Callable[[], list[str]] | None = None
    ) -> Advertiser:
        advertiser = Advertiser(advert, interfaces=LOOPBACK, address_source=address_source)
        started.append(advertiser)
        await advertiser.start()
        return advertiser

    yield start
    for advertiser in started:
        await advertiser.stop()


def test_txt_records_without_tls() -> None:
    """Without TLS the TXT records are version, id, pairing state and the two paths."""
    advert = Advert("desk", 8765, "dev-1", pairing_open=False)
    assert txt_records(advert) == {
        "v": PROTOCOL_VERSION,
        "id": "dev-1",
        "pairing": "closed",
        "api": "/api",
        "ws": "/ws",
    }


def test_txt_records_with_tls() -> None:
    """With TLS on the fingerprint is published as `tls`, beside the rest."""
    advert = Advert("desk", 8765, "dev-1", pairing_open=True, tls_fingerprint=FINGERPRINT)
    assert txt_records(advert) == {
        "v": PROTOCOL_VERSION,
        "id": "dev-1",
        "pairing": "open",
        "api": "/api",
        "ws": "/ws",
        "tls": FINGERPRINT,
    }


def test_txt_record_longer_than_dns_allows_is_refused() -> None:
    """A key=value string over 255 bytes cannot be a TXT record and is refused."""
    with pytest.raises(ValueError, match="longer than 255 bytes"):
        txt_records(Advert("desk", 8765, "x" * 300, pairing_open=True))


def test_advertise_interfaces_follow_the_listen_address() -> None:
    """A wildcard or a name means every interface; a specific address means just that one."""
    assert advertise_interfaces("0.0.0.0") is None  # noqa: S104
    assert advertise_interfaces("::") is None
    assert advertise_interfaces("studylens.lan") is None
    assert advertise_interfaces("127.0.0.1") == ["127.0.0.1"]
    assert advertise_interfaces("192.168.1.20") == ["192.168.1.20"]


def test_local_addresses_leave_out_loopback_and_link_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loopback and IPv6 link-local addresses are not published; IPv4 comes first."""
    adapters = [
        ifaddr.Adapter(
            "lo",
            "lo",
            [ifaddr.IP("127.0.0.1", 8, "lo"), ifaddr.IP(("::1", 0, 0), 128, "lo")],
            index=1,
        ),
        ifaddr.Adapter(
            "wlan0",
            "wlan0",
            [
                ifaddr.IP(("fe80::1", 0, 2), 64, "wlan0"),
                ifaddr.IP(("2001:db8::5", 0, 0), 64, "wlan0"),
                ifaddr.IP("192.168.1.20", 24, "wlan0"),
            ],
            index=2,
        ),
    ]
    monkeypatch.setattr(ifaddr, "get_adapters", lambda: adapters)
    assert local_addresses() == ["192.168.1.20", "2001:db8::5"]


async def test_browser_finds_the_service_and_reads_every_txt_field(
    browser: Browser, advertise: Advertise
) -> None:
    """A zeroconf browser finds the advertised service with its port, address and TXT records."""
    advert = make_advert(tls=FINGERPRINT)
    await advertise(advert)

    await browser.wait_for(advert.instance, ServiceStateChange.Added)
    info = await browser.resolve(advert.instance)

    assert info.port == advert.port
    assert info.parsed_addresses() == ["127.0.0.1"]
    assert info.decoded_properties == {
        "v": PROTOCOL_VERSION,
        "id": advert.device_id,
        "pairing": "open",
        "api": "/api",
        "ws": "/ws",
        "tls": FINGERPRINT,
    }


async def test_update_changes_the_txt_the_browser_sees(
    browser: Browser, advertise: Advertise
) -> None:
    """Closing pairing is re-announced and the browser reads `pairing=closed`."""
    advert = make_advert(pairing_open=True)
    advertiser = await advertise(advert)
    await browser.wait_for(advert.instance, ServiceStateChange.Added)
    assert (await browser.txt(advert.instance))["pairing"] == "open"

    await advertiser.update(replace(advert, pairing_open=False))

    await browser.wait_for(advert.instance, ServiceStateChange.Updated)
    assert (await browser.txt(advert.instance))["pairing"] == "closed"


async def test_stop_removes_the_record(browser: Browser, advertise: Advertise) -> None:
    """After stop the goodbye packets make the browser drop the service."""
    advert = make_advert()
    advertiser = await advertise(advert)
    await browser.wait_for(advert.instance, ServiceStateChange.Added)

    await advertiser.stop()

    await browser.wait_for(advert.instance, ServiceStateChange.Removed)
    assert not advertiser.started


async def test_two_advertisers_with_one_name_are_both_registered(
    browser: Browser, advertise: Advertise
) -> None:
    """The second daemon with a taken instance name is renamed, and both are on the network."""
    name = unique("twin")
    first = await advertise(make_advert(name))
    second = await advertise(make_advert(name))

    assert first.instance == name
    assert second.instance != name
    assert second.instance.startswith(name)
    await browser.wait_for(first.instance, ServiceStateChange.Added)
    await browser.wait_for(second.instance, ServiceStateChange.Added)
    assert (await browser.txt(first.instance))["id"] == first.advert.device_id
    assert (await browser.txt(second.instance))["id"] == second.advert.device_id


async def test_refresh_addresses_announces_a_new_address(
    browser: Browser, advertise: Advertise
) -> None:
    """When the machine's addresses change, the browser resolves the new ones."""
    addresses = ["127.0.0.1"]
    advert = make_advert()
    advertiser = await advertise(advert, address_source=lambda: list(addresses))
    await browser.wait_for(advert.instance, ServiceStateChange.Added)

    addresses.append("127.0.0.2")
    await advertiser.refresh_addresses()

    await browser.wait_for(advert.instance, ServiceStateChange.Updated)
    assert sorted((await browser.resolve(advert.instance)).parsed_addresses()) == [
        "127.0.0.1",
        "127.0.0.2",
    ]


async def test_watch_publishes_what_the_advert_source_says(browser: Browser) -> None:
    """Watch starts advertising and follows the advert source (pairing opens, then closes)."""
    advert = make_advert(pairing_open=False)
    current = replace(advert, pairing_open=True)

    async def source() -> Advert:
        return current

    advertiser = Advertiser(advert, interfaces=LOOPBACK)
    watching = asyncio.create_task(advertiser.watch(interval=0.1, advert_source=source))
    try:
        await browser.wait_for(advert.instance, ServiceStateChange.Added)
        assert (await browser.txt(advert.instance))["pairing"] == "open"

        current = advert
        await browser.wait_for(advert.instance, ServiceStateChange.Updated)
        assert (await browser.txt(advert.instance))["pairing"] == "closed"
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
        await advertiser.stop()


async def test_discover_returns_the_advertised_daemon(advertise: Advertise) -> None:
    """discover() browses, resolves and reports the daemon with its addresses and TXT."""
    advert = make_advert(tls=FINGERPRINT)
    advertiser = await advertise(advert)

    found = {f.instance: f for f in await discover(2.5, interfaces=LOOPBACK)}

    daemon = found[advert.instance]
    assert daemon.port == advert.port
    assert daemon.addresses == ["127.0.0.1"]
    assert daemon.host.endswith(".local.")
    assert daemon.txt == txt_records(advertiser.advert)


def discover_cli() -> typer.Typer:
    """A one-command app around `discover`, as `studylens-edge discover` registers it."""
    app = typer.Typer()
    app.command()(discover_command)
    return app


async def test_discover_command_prints_every_txt_record(advertise: Advertise) -> None:
    """`discover` prints the daemon's instance, address, port and every TXT record."""
    advert = make_advert(tls=FINGERPRINT)
    await advertise(advert)

    runner = CliRunner(env={"COLUMNS": "300"})
    result = await asyncio.to_thread(runner.invoke, discover_cli(), ["--timeout", "2"])

    assert result.exit_code == 0, result.output
    assert advert.instance in result.output
    assert "127.0.0.1" in result.output
    assert str(advert.port) in result.output
    for key, value in txt_records(advert).items():
        assert f"{key}={value}" in result.output


def test_discover_command_says_when_none_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing on the network the command says so in a sentence."""

    async def nothing(seconds: float) -> list[object]:
        return []

    monkeypatch.setattr("edge.cli.discover.browse", nothing)
    result = CliRunner().invoke(discover_cli(), ["--timeout", "0.1"])

    assert result.exit_code == 0
    assert result.output.strip() == "No StudyLens daemon found on this network."


def test_discover_command_escapes_what_strangers_advertise() -> None:
    """Control characters, rich markup and emoji codes in an advert are printed literally."""
    hostile = Found(
        instance="\x1b[2Jevil [bold]x[/bold]",
        host="h.local.",
        addresses=["192.0.2.9"],
        port=1,
        txt={"note": ":thumbs_up:\x07"},
    )
    console = Console(width=200, record=True, file=io.StringIO())

    console.print(found_table([hostile]))

    text = console.export_text()
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\\x1b[2Jevil [bold]x[/bold]" in text
    assert "note=:thumbs_up:\\x07" in text
