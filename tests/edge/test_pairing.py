"""Pairing codes and device tokens against a real SQLite database."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from edge import pairing
from edge.store import open_database

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test database lives."""
    return tmp_path / "edge.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite_utils.Database]:
    """A fresh, migrated database."""
    database = open_database(db_path)
    yield database
    database.close()


def paired(db: sqlite_utils.Database, name: str = "phone", now: datetime = NOW) -> pairing.Paired:
    """Make a code and redeem it at `now`."""
    code = pairing.new_code(db, now, TTL)
    return pairing.redeem(db, code.code, name, now)


def test_codes_are_six_digits(db: sqlite_utils.Database) -> None:
    """Every code is exactly six ASCII digits."""
    codes = [pairing.new_code(db, NOW, TTL).code for _ in range(50)]

    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes), codes


def test_small_codes_keep_their_leading_zeros(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code drawn as 42 is shown as 000042, and that is the code that works."""
    monkeypatch.setattr(secrets, "randbelow", lambda _: 42)
    code = pairing.new_code(db, NOW, TTL)

    assert code.code == "000042"
    assert pairing.redeem(db, "000042", "phone", NOW).device_id


def test_a_code_expires_after_its_ttl(db: sqlite_utils.Database) -> None:
    """The code says it expires `ttl` after it was made."""
    assert pairing.new_code(db, NOW, TTL).expires_at == NOW + TTL


def test_a_new_code_replaces_an_unused_earlier_code(db: sqlite_utils.Database) -> None:
    """Once a new code is made, the earlier unused one no longer works."""
    first = pairing.new_code(db, NOW, TTL)
    pairing.new_code(db, NOW, TTL)

    with pytest.raises(pairing.PairingFailed):
        pairing.redeem(db, first.code, "phone", NOW)


def test_the_new_code_works_after_replacing(db: sqlite_utils.Database) -> None:
    """The replacing code itself can be redeemed."""
    pairing.new_code(db, NOW, TTL)
    second = pairing.new_code(db, NOW, TTL)

    assert pairing.redeem(db, second.code, "phone", NOW).device_id


def test_a_code_is_redeemed_once(db: sqlite_utils.Database) -> None:
    """The second redemption of the same code fails."""
    code = pairing.new_code(db, NOW, TTL)
    pairing.redeem(db, code.code, "phone", NOW)

    with pytest.raises(pairing.PairingFailed):
        pairing.redeem(db, code.code, "another phone", NOW)


def test_a_code_works_until_just_before_it_expires(db: sqlite_utils.Database) -> None:
    """A second before expiry the code still works."""
    code = pairing.new_code(db, NOW, TTL)

    assert pairing.redeem(db, code.code, "phone", NOW + TTL - timedelta(seconds=1)).device_id


def test_an_expired_code_fails(db: sqlite_utils.Database) -> None:
    """At its expiry time the code no longer works."""
    code = pairing.new_code(db, NOW, TTL)

    with pytest.raises(pairing.PairingFailed):
        pairing.redeem(db, code.code, "phone", NOW + TTL)


def test_a_wrong_code_fails(db: sqlite_utils.Database) -> None:
    """A code that was never made fails."""
    code = pairing.new_code(db, NOW, TTL)
    wrong = f"{(int(code.code) + 1) % 1_000_000:06d}"

    with pytest.raises(pairing.PairingFailed):
        pairing.redeem(db, wrong, "phone", NOW)


def test_pairing_failed_is_a_401() -> None:
    """The failure maps to 401 pairing_failed, one message for every cause."""
    error = pairing.PairingFailed()

    assert (error.http_status, error.code) == (401, "pairing_failed")


def test_a_token_is_32_random_bytes_url_safe(db: sqlite_utils.Database) -> None:
    """The token is 43 url-safe characters (32 bytes, base64 without padding)."""
    token = paired(db).token

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token


def test_tokens_differ_between_devices(db: sqlite_utils.Database) -> None:
    """Two pairings give two different tokens and device ids."""
    one, two = paired(db, "one"), paired(db, "two")

    assert one.token != two.token
    assert one.device_id != two.device_id


def test_authenticate_finds_the_device_of_a_token(db: sqlite_utils.Database) -> None:
    """A device's token authenticates as that device."""
    device = paired(db)

    assert pairing.authenticate(db, device.token) == device.device_id


def test_authenticate_refuses_an_unknown_token(db: sqlite_utils.Database) -> None:
    """A made-up token authenticates as nobody."""
    paired(db)

    assert pairing.authenticate(db, "made-up-token") is None


def test_authenticate_refuses_the_stored_hash(db: sqlite_utils.Database) -> None:
    """The hash in the database is not itself a token."""
    device = paired(db)

    assert pairing.authenticate(db, pairing.digest(device.token)) is None


def test_the_database_keeps_only_hashes(db: sqlite_utils.Database) -> None:
    """Neither the code nor the token is stored in clear text."""
    code = pairing.new_code(db, NOW, TTL)
    device = pairing.redeem(db, code.code, "phone", NOW)
    rows = [
        str(value)
        for table in ("devices", "pairing_codes")
        for row in db.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        for value in row
    ]

    assert not [v for v in rows if device.token in v or code.code in v]
    assert pairing.digest(device.token) in rows


def test_revoke_stops_the_token(db: sqlite_utils.Database) -> None:
    """A revoked device's token authenticates as nobody."""
    device = paired(db)
    pairing.revoke(db, device.device_id, NOW)

    assert pairing.authenticate(db, device.token) is None


def test_revoke_leaves_other_devices_alone(db: sqlite_utils.Database) -> None:
    """Revoking one device keeps another's token working."""
    one, two = paired(db, "one"), paired(db, "two")
    pairing.revoke(db, one.device_id, NOW)

    assert pairing.authenticate(db, two.token) == two.device_id


def test_revoking_an_unknown_device_fails(db: sqlite_utils.Database) -> None:
    """An id nobody has raises DeviceNotFound (404 device_not_found)."""
    with pytest.raises(pairing.DeviceNotFound) as raised:
        pairing.revoke(db, "no-such-device", NOW)

    assert (raised.value.http_status, raised.value.code) == (404, "device_not_found")


def test_revoking_twice_keeps_the_first_time(db: sqlite_utils.Database) -> None:
    """A second revoke neither fails nor moves the revocation time."""
    device = paired(db)
    pairing.revoke(db, device.device_id, NOW)
    pairing.revoke(db, device.device_id, NOW + timedelta(hours=1))

    [record] = pairing.list_devices(db)
    assert record.revoked_at == NOW


def test_revoked_ids_lists_only_revoked_devices(db: sqlite_utils.Database) -> None:
    """`revoked_ids` holds the revoked device and not the live one."""
    one, two = paired(db, "one"), paired(db, "two")
    pairing.revoke(db, one.device_id, NOW)

    assert pairing.revoked_ids(db) == {one.device_id}
    assert two.device_id not in pairing.revoked_ids(db)


def test_revoked_ids_is_empty_at_first(db: sqlite_utils.Database) -> None:
    """Without revocations the set is empty."""
    paired(db)

    assert pairing.revoked_ids(db) == set()


def test_list_devices_is_newest_first(db: sqlite_utils.Database) -> None:
    """Devices are listed by pairing time, newest first, with their names."""
    paired(db, "old", NOW)
    paired(db, "newest", NOW + timedelta(hours=2))
    paired(db, "middle", NOW + timedelta(hours=1))

    assert [d.name for d in pairing.list_devices(db)] == ["newest", "middle", "old"]


def test_list_devices_shows_pairing_and_revocation_times(db: sqlite_utils.Database) -> None:
    """A listed device carries its id, when it was paired and when it was revoked."""
    device = paired(db, "phone", NOW)
    pairing.revoke(db, device.device_id, NOW + timedelta(minutes=3))

    assert pairing.list_devices(db) == [
        pairing.DeviceRecord(
            device.device_id, "phone", NOW, NOW + timedelta(minutes=3), paired_by=pairing.OWNER
        )
    ]


def test_list_devices_is_empty_at_first(db: sqlite_utils.Database) -> None:
    """A fresh database has no paired devices."""
    assert pairing.list_devices(db) == []


def test_daemon_id_is_a_uuid(db: sqlite_utils.Database) -> None:
    """The daemon's id is a UUID."""
    assert uuid.UUID(pairing.daemon_id(db))


def test_daemon_id_is_stable_across_reopening(db_path: Path) -> None:
    """Closing and reopening the database keeps the daemon's id."""
    first = open_database(db_path)
    before = pairing.daemon_id(first)
    first.close()
    again = open_database(db_path)
    after = pairing.daemon_id(again)
    again.close()

    assert before == after


def test_daemon_ids_differ_between_databases(tmp_path: Path) -> None:
    """Two data dirs are two daemons."""
    one, two = open_database(tmp_path / "one.db"), open_database(tmp_path / "two.db")
    ids = {pairing.daemon_id(one), pairing.daemon_id(two)}
    one.close()
    two.close()

    assert len(ids) == 2


def test_pairings_survive_reopening(db_path: Path) -> None:
    """A token keeps working after the database is closed and reopened."""
    first = open_database(db_path)
    device = paired(first)
    first.close()
    again = open_database(db_path)
    found = pairing.authenticate(again, device.token)
    again.close()

    assert found == device.device_id


def test_pairing_is_closed_without_a_code(db: sqlite_utils.Database) -> None:
    """A fresh daemon is not open for pairing."""
    assert pairing.pairing_open(db, NOW) is False


def test_pairing_is_open_while_a_code_waits(db: sqlite_utils.Database) -> None:
    """A fresh, unused code opens pairing."""
    pairing.new_code(db, NOW, TTL)

    assert pairing.pairing_open(db, NOW + TTL - timedelta(seconds=1)) is True


def test_pairing_closes_when_the_code_expires(db: sqlite_utils.Database) -> None:
    """At the code's expiry pairing is closed again."""
    pairing.new_code(db, NOW, TTL)

    assert pairing.pairing_open(db, NOW + TTL) is False


def test_pairing_closes_when_the_code_is_used(db: sqlite_utils.Database) -> None:
    """A redeemed code no longer keeps pairing open."""
    paired(db)

    assert pairing.pairing_open(db, NOW) is False


def test_a_wrong_guess_below_the_budget_withdraws_nothing(db: sqlite_utils.Database) -> None:
    """One wrong code is refused without saying the pending code was withdrawn."""
    code = pairing.new_code(db, NOW, TTL)
    wrong = f"{(int(code.code) + 1) % 10**6:06d}"

    with pytest.raises(pairing.PairingFailed) as refused:
        pairing.redeem(db, wrong, "guesser", NOW)

    assert refused.value.withdrew_code is False
    assert pairing.pairing_open(db, NOW)


def test_the_guess_that_spends_the_budget_says_so(db: sqlite_utils.Database) -> None:
    """The GUESS_BUDGET-th wrong code reports the withdrawal; the code no longer pairs."""
    code = pairing.new_code(db, NOW, TTL)
    wrong = f"{(int(code.code) + 1) % 10**6:06d}"
    for _ in range(pairing.GUESS_BUDGET - 1):
        with pytest.raises(pairing.PairingFailed):
            pairing.redeem(db, wrong, "guesser", NOW)

    with pytest.raises(pairing.PairingFailed) as last:
        pairing.redeem(db, wrong, "guesser", NOW)

    assert last.value.withdrew_code is True
    with pytest.raises(pairing.PairingFailed):
        pairing.redeem(db, code.code, "too late", NOW)


def test_is_revoked_tells_revoked_live_and_unknown_devices_apart(
    db: sqlite_utils.Database,
) -> None:
    """A live device is not revoked; a revoked or unknown one is."""
    live = paired(db, "live")
    gone = paired(db, "gone")
    pairing.revoke(db, gone.device_id, NOW)

    assert (
        pairing.is_revoked(db, live.device_id),
        pairing.is_revoked(db, gone.device_id),
        pairing.is_revoked(db, "no-such-device"),
    ) == (False, True, True)


def test_an_unknown_device_is_named_in_the_error(db: sqlite_utils.Database) -> None:
    """Revoking or finding an id nobody has says which id."""
    for call in (
        lambda: pairing.revoke(db, "no-such-device", NOW),
        lambda: pairing.find_device(db, "no-such-device"),
    ):
        with pytest.raises(pairing.DeviceNotFound, match="no-such-device"):
            call()
