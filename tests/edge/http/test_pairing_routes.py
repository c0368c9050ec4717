"""POST /api/pair over HTTP: codes become tokens, once, in time, and guessing is locked out."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from edge import pairing
from edge.settings import EdgeSettings
from tests.support import (
    PEER_HEADER,
    AppClient,
    FakeClock,
    StartApp,
    authorized,
    data_of,
    error_of,
    services_of,
)


async def make_code(client: AppClient, clock: FakeClock, settings: EdgeSettings) -> str:
    """A fresh pairing code, as `studylens-edge pair` would show it."""
    ttl = timedelta(minutes=settings.access.pairing_code_minutes)
    code = await services_of(client).store.run(lambda db: pairing.new_code(db, clock.now(), ttl))
    return code.code


def other_than(code: str) -> str:
    """A six-digit code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def pair(anon: aiohttp.ClientSession, client: AppClient, body: Any) -> aiohttp.ClientResponse:
    """POST /api/pair without a token; `body` goes out as JSON."""
    return await anon.post(client.make_url("/api/pair"), json=body)


async def paired(
    anon: aiohttp.ClientSession, client: AppClient, code: str, name: str = "Lena's iPhone"
) -> Any:
    """Pair with `code` and return the 201's data."""
    return await data_of(await pair(anon, client, {"code": code, "deviceName": name}), 201)


async def wrong_code(anon: aiohttp.ClientSession, client: AppClient, code: str) -> Any:
    """Send a wrong code; return the error (any status)."""
    response = await pair(anon, client, {"code": other_than(code), "deviceName": "guesser"})
    return response.status, (await response.json())["error"]


async def test_the_right_code_pairs_with_201(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """A fresh code answers 201 with a device id, a token, the daemon id and no fingerprint."""
    code = await make_code(client, clock, settings)

    data = await paired(anon, client, code)

    assert set(data) == {"deviceId", "token", "daemonId", "tlsFingerprint"}
    assert data["tlsFingerprint"] is None  # TLS is off


async def test_the_daemon_id_is_the_stored_one(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """`daemonId` is the daemon's stable id from the database."""
    code = await make_code(client, clock, settings)

    data = await paired(anon, client, code)

    assert data["daemonId"] == await services_of(client).store.run(pairing.daemon_id)


async def test_the_token_is_43_url_safe_characters(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """The token is 32 random bytes, url-safe base64 without padding."""
    code = await make_code(client, clock, settings)

    token = (await paired(anon, client, code))["token"]

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token


async def test_the_token_opens_a_private_route(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """The new token works as a Bearer token on a route that needs one."""
    code = await make_code(client, clock, settings)
    token = (await paired(anon, client, code))["token"]

    response = await anon.get(client.make_url("/api/help-count"), headers=authorized(token))

    await data_of(response)


async def test_the_device_is_listed_under_its_name(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """The paired device is stored with its id and the name it sent."""
    code = await make_code(client, clock, settings)
    data = await paired(anon, client, code, "Lena's iPhone")

    devices = await services_of(client).store.run(pairing.list_devices)

    assert (data["deviceId"], "Lena's iPhone") in [(d.device_id, d.name) for d in devices]


async def test_a_used_code_is_refused(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """The same code a second time answers 401 pairing_failed."""
    code = await make_code(client, clock, settings)
    await paired(anon, client, code)

    response = await pair(anon, client, {"code": code, "deviceName": "second phone"})

    assert (await error_of(response, 401))["code"] == "pairing_failed"


async def test_an_expired_code_is_refused(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """A code used after its minutes ran out answers 401 pairing_failed."""
    code = await make_code(client, clock, settings)
    clock.advance(settings.access.pairing_code_minutes * 60 + 1)

    response = await pair(anon, client, {"code": code, "deviceName": "late phone"})

    assert (await error_of(response, 401))["code"] == "pairing_failed"


async def test_a_code_works_until_just_before_expiry(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """A second before the code runs out it still pairs."""
    code = await make_code(client, clock, settings)
    clock.advance(settings.access.pairing_code_minutes * 60 - 1)

    assert (await paired(anon, client, code))["token"]


async def test_a_wrong_code_is_refused(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """A code that was never shown answers 401 pairing_failed."""
    code = await make_code(client, clock, settings)

    status, error = await wrong_code(anon, client, code)

    assert (status, error["code"]) == (401, "pairing_failed")


async def test_five_wrong_codes_then_locked_with_retry_after(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """After five wrong codes the sixth try answers 429 pairing_locked with Retry-After."""
    code = await make_code(client, clock, settings)
    for _ in range(5):
        assert (await wrong_code(anon, client, code))[0] == 401

    response = await pair(anon, client, {"code": other_than(code), "deviceName": "guesser"})

    assert (await error_of(response, 429))["code"] == "pairing_locked"
    assert 0 < int(response.headers["Retry-After"]) <= 30


async def test_the_lock_out_ends_after_its_30_seconds(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """On the daemon's clock: locked at 29.9 s after the fifth wrong code, free at 30 s."""
    code = await make_code(client, clock, settings)
    for _ in range(5):
        await wrong_code(anon, client, code)
    clock.advance(29.9)
    assert (await wrong_code(anon, client, code))[0] == 429
    clock.advance(0.1)

    await paired(anon, client, code)


async def test_a_second_lock_out_lasts_twice_as_long(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Five more wrong codes after the first lock-out lock the client for 60 s."""
    code = await make_code(client, clock, settings)
    for _ in range(5):
        await wrong_code(anon, client, code)
    clock.advance(30)
    for _ in range(5):
        await wrong_code(anon, client, code)

    response = await pair(anon, client, {"code": code, "deviceName": "phone"})

    assert (await error_of(response, 429))["code"] == "pairing_locked"
    assert response.headers["Retry-After"] == "60"
    clock.advance(60)
    await paired(anon, client, code)


async def test_a_locked_client_is_refused_even_with_the_right_code(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """During the lock-out the right code answers 429 too, and is not used up."""
    code = await make_code(client, clock, settings)
    for _ in range(5):
        await wrong_code(anon, client, code)

    response = await pair(anon, client, {"code": code, "deviceName": "phone"})

    assert (await error_of(response, 429))["code"] == "pairing_locked"
    assert "Retry-After" in response.headers
    assert await services_of(client).store.run(lambda db: pairing.pairing_open(db, clock.now()))


async def test_concurrent_wrong_codes_cannot_outrun_the_lockout(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Thirty wrong codes sent at once get at most five answers; the rest are locked out."""
    code = await make_code(client, clock, settings)

    results = await asyncio.gather(*(wrong_code(anon, client, code) for _ in range(30)))

    statuses = sorted(status for status, _ in results)
    assert statuses.count(401) <= 5, statuses


async def test_two_devices_paired_with_two_codes_both_work(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Two codes pair two devices with different ids, and both tokens work."""
    first = await paired(anon, client, await make_code(client, clock, settings), "phone")
    second = await paired(anon, client, await make_code(client, clock, settings), "tablet")

    assert first["deviceId"] != second["deviceId"]
    for token in (first["token"], second["token"]):
        await data_of(await anon.get(client.make_url("/api/help-count"), headers=authorized(token)))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"deviceName": "phone"}, id="no code"),
        pytest.param({"code": "12345", "deviceName": "phone"}, id="five digits"),
        pytest.param({"code": "1234567", "deviceName": "phone"}, id="seven digits"),
        pytest.param({"code": "12a456", "deviceName": "phone"}, id="letters"),
        pytest.param({"code": 123456, "deviceName": "phone"}, id="a number"),
        pytest.param({"code": "123456"}, id="no device name"),
        pytest.param({"code": "123456", "deviceName": ""}, id="empty device name"),
        pytest.param({"code": "123456", "deviceName": "x" * 81}, id="81-char device name"),
        pytest.param([], id="an array"),
    ],
)
async def test_a_bad_body_is_refused(
    client: AppClient, anon: aiohttp.ClientSession, body: Any
) -> None:
    """A body that is not `{code: 6 digits, deviceName: 1-80 chars}` answers 400."""
    response = await pair(anon, client, body)

    assert (await error_of(response, 400))["code"] == "invalid_request"


async def test_a_device_name_of_80_characters_is_accepted(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Eighty characters is the longest allowed device name."""
    code = await make_code(client, clock, settings)

    assert (await paired(anon, client, code, "x" * 80))["token"]


async def test_a_body_that_is_not_json_is_refused(
    client: AppClient, anon: aiohttp.ClientSession
) -> None:
    """Bytes that are not JSON answer 400 invalid_json."""
    response = await anon.post(
        client.make_url("/api/pair"),
        data=b"code=123456",
        headers={"Content-Type": "application/json"},
    )

    assert (await error_of(response, 400))["code"] == "invalid_json"


async def test_the_database_never_holds_the_token_or_the_code(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """After pairing, no row of devices or pairing_codes contains the code or the token."""
    code = await make_code(client, clock, settings)
    token = (await paired(anon, client, code))["token"]

    dump = await services_of(client).store.run(
        lambda db: [
            str(value)
            for table in ("devices", "pairing_codes")
            for row in db.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            for value in row
        ]
    )

    assert dump, "nothing was stored"
    assert not [value for value in dump if token in value or code in value]
    assert pairing.digest(token) in dump
    assert pairing.digest(code) in dump


# --- guessing from many addresses -----------------------------------------------------------------

#: The student's phone on the Wi-Fi.
STUDENT = "192.168.1.20"


async def pair_from(
    anon: aiohttp.ClientSession, client: AppClient, code: str, address: str
) -> aiohttp.ClientResponse:
    """POST /api/pair with `code` as if from `address` (the app takes `peer_header`)."""
    return await anon.post(
        client.make_url("/api/pair"),
        json={"code": code, "deviceName": f"phone at {address}"},
        headers={PEER_HEADER: address},
    )


async def guess_from(
    anon: aiohttp.ClientSession, client: AppClient, code: str, address: str
) -> int:
    """A wrong code sent as if from `address`; its status."""
    return (await pair_from(anon, client, other_than(code), address)).status


async def test_strangers_on_many_addresses_cannot_lock_the_owner_out(
    start_app: StartApp, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Wrong codes from ten addresses leave the student's own right code working (201)."""
    client = await start_app(peer_header=True)
    code = await make_code(client, clock, settings)
    for n in range(10):
        assert await guess_from(anon, client, code, f"192.168.1.{100 + n}") == 401

    response = await pair_from(anon, client, code, STUDENT)

    await data_of(response, 201)


async def test_a_code_dies_after_its_guess_budget(
    start_app: StartApp, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """After GUESS_BUDGET wrong guesses from anywhere, even the right code is refused."""
    client = await start_app(peer_header=True)
    code = await make_code(client, clock, settings)
    for n in range(pairing.GUESS_BUDGET):
        assert await guess_from(anon, client, code, f"10.0.{n // 4}.{n}") == 401

    response = await pair_from(anon, client, code, STUDENT)

    assert (await error_of(response, 401))["code"] == "pairing_failed"
    assert not await services_of(client).store.run(lambda db: pairing.pairing_open(db, clock.now()))


async def test_one_guess_short_of_the_budget_the_code_still_pairs(
    start_app: StartApp, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """GUESS_BUDGET - 1 wrong guesses leave the code alive for its owner."""
    client = await start_app(peer_header=True)
    code = await make_code(client, clock, settings)
    for n in range(pairing.GUESS_BUDGET - 1):
        await guess_from(anon, client, code, f"10.0.{n // 4}.{n}")

    response = await pair_from(anon, client, code, STUDENT)

    await data_of(response, 201)


async def test_the_owner_is_told_when_guessing_killed_the_code(
    start_app: StartApp, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """The dashboard's event stream says `pairing: withdrawn`, so the owner makes a new code."""
    client = await start_app(peer_header=True)
    code = await make_code(client, clock, settings)
    with services_of(client).events.subscribe() as stream:
        for n in range(pairing.GUESS_BUDGET):
            await guess_from(anon, client, code, f"10.0.{n // 4}.{n}")

        event = await stream.next(within=5)

    assert event is not None
    assert (event.kind, event.data) == ("pairing", {"state": "withdrawn"})


def test_guessing_a_code_stays_below_one_in_ten_thousand() -> None:
    """The budget bounds any number of guessers' chance for one code under 1 in 10,000."""
    assert pairing.GUESS_BUDGET / 10**pairing.CODE_DIGITS < 1 / 10_000


async def test_after_wrong_codes_and_a_right_one_the_client_pairs_again(
    client: AppClient, anon: aiohttp.ClientSession, clock: FakeClock, settings: EdgeSettings
) -> None:
    """Four wrong codes, the right one, four more wrong ones: the next right code still pairs."""
    code = await make_code(client, clock, settings)
    for _ in range(4):
        await wrong_code(anon, client, code)
    await paired(anon, client, code, "first phone")
    second = await make_code(client, clock, settings)
    for _ in range(4):
        await wrong_code(anon, client, second)

    await paired(anon, client, second, "second phone")
