"""Back-off after wrong pairing codes: per client, doubling and capped; no lock for everyone."""

from __future__ import annotations

from edge.lockout import Lockout

A = "192.168.1.30"
B = "192.168.1.31"


def fail(lockout: Lockout, client: str, times: int, now: float) -> None:
    """Record `times` wrong codes from `client` at `now`."""
    for _ in range(times):
        lockout.failed(client, now)


def lock_lengths(lockout: Lockout, rounds: int) -> list[float]:
    """Lock A out `rounds` times, each after the last lock ran out; return each lock's length."""
    now = 0.0
    lengths = []
    for _ in range(rounds):
        fail(lockout, A, 5, now)
        wait = lockout.retry_after(A, now)
        lengths.append(wait)
        now += wait
    return lengths


def test_a_new_client_may_try_at_once() -> None:
    """A client never seen before has nothing to wait for."""
    assert Lockout().retry_after(A, 0.0) == 0.0


def test_four_wrong_codes_do_not_lock() -> None:
    """Up to four failures the client may keep trying."""
    lockout = Lockout()
    fail(lockout, A, 4, 0.0)

    assert lockout.retry_after(A, 0.0) == 0.0


def test_five_wrong_codes_lock_the_client_for_30_seconds() -> None:
    """The fifth failure locks the client out for 30 s."""
    lockout = Lockout()
    fail(lockout, A, 5, 100.0)

    assert lockout.retry_after(A, 100.0) == 30.0
    assert lockout.retry_after(A, 110.0) == 20.0


def test_the_lockout_expires_after_its_time() -> None:
    """Thirty seconds after the fifth failure the client may try again."""
    lockout = Lockout()
    fail(lockout, A, 5, 100.0)

    assert lockout.retry_after(A, 129.9) > 0.0
    assert lockout.retry_after(A, 130.0) == 0.0


def test_after_expiry_the_client_gets_five_fresh_tries() -> None:
    """A lock-out resets the count: four more failures after it do not lock again."""
    lockout = Lockout()
    fail(lockout, A, 5, 0.0)
    fail(lockout, A, 4, 30.0)

    assert lockout.retry_after(A, 30.0) == 0.0


def test_each_further_lockout_doubles() -> None:
    """Repeated lock-outs last 30, 60, 120, 240 s."""
    assert lock_lengths(Lockout(), 4) == [30.0, 60.0, 120.0, 240.0]


def test_the_lockout_is_capped_at_an_hour_by_default() -> None:
    """Doubling stops at the default cap of 3600 s."""
    assert lock_lengths(Lockout(), 9) == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_cap_is_configurable() -> None:
    """A smaller `max_lockout` caps the doubling there."""
    assert lock_lengths(Lockout(max_lockout=100.0), 4) == [30.0, 60.0, 100.0, 100.0]


def test_another_client_is_not_affected() -> None:
    """A locked-out client does not lock out a different address."""
    lockout = Lockout()
    fail(lockout, A, 5, 0.0)

    assert lockout.retry_after(B, 0.0) == 0.0


def test_failures_of_different_clients_are_counted_apart() -> None:
    """Four failures each from two clients lock neither."""
    lockout = Lockout()
    fail(lockout, A, 4, 0.0)
    fail(lockout, B, 4, 0.0)

    assert (lockout.retry_after(A, 0.0), lockout.retry_after(B, 0.0)) == (0.0, 0.0)


def test_success_clears_the_failure_count() -> None:
    """After a right code, four failures before and four after do not lock."""
    lockout = Lockout()
    fail(lockout, A, 4, 0.0)
    lockout.succeeded(A)
    fail(lockout, A, 4, 1.0)

    assert lockout.retry_after(A, 1.0) == 0.0


def test_success_resets_the_doubling() -> None:
    """After a right code, the next lock-out is back to 30 s."""
    lockout = Lockout()
    fail(lockout, A, 5, 0.0)  # 30 s
    fail(lockout, A, 5, 30.0)  # 60 s
    lockout.succeeded(A)
    fail(lockout, A, 5, 90.0)

    assert lockout.retry_after(A, 90.0) == 30.0


def test_wrong_codes_from_many_addresses_lock_no_one_else() -> None:
    """Strangers guessing from a hundred addresses never lock out a client that has not failed."""
    lockout = Lockout()
    for n in range(100):
        fail(lockout, f"10.0.0.{n}", 5, 5.0)

    assert lockout.retry_after("192.168.1.99", 5.0) == 0.0


def test_a_full_table_forgets_unlocked_clients_first() -> None:
    """Past `max_clients` addresses, those not locked are forgotten; locked ones stay locked."""
    lockout = Lockout(max_clients=3)
    fail(lockout, A, 5, 0.0)
    fail(lockout, "10.0.0.1", 1, 0.0)
    fail(lockout, "10.0.0.2", 1, 0.0)
    fail(lockout, "10.0.0.3", 1, 0.0)

    assert lockout.retry_after(A, 0.0) == 30.0
    assert lockout.clients <= 3


def test_a_new_address_does_not_wipe_the_others_counts() -> None:
    """Below `max_clients`, a newcomer leaves other clients' failures counted."""
    lockout = Lockout()
    fail(lockout, A, 4, 0.0)
    fail(lockout, B, 1, 0.0)
    fail(lockout, A, 1, 0.0)

    assert lockout.retry_after(A, 0.0) == 30.0


def test_success_of_an_unknown_client_is_harmless() -> None:
    """A right code from an address that never failed leaves the table as it was."""
    lockout = Lockout()
    fail(lockout, A, 2, 0.0)

    lockout.succeeded(B)

    assert lockout.clients == 1
