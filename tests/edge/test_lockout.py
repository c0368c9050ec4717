"""Lock-outs after wrong pairing codes: per client, doubling and capped, and for everyone."""

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


def test_twenty_failures_across_clients_lock_everyone() -> None:
    """Twenty wrong codes from twenty addresses lock out all clients, even a new one."""
    lockout = Lockout()
    for n in range(20):
        lockout.failed(f"10.0.0.{n}", 5.0)

    assert lockout.retry_after("10.0.0.99", 5.0) == 60.0
    assert lockout.retry_after("10.0.0.0", 5.0) == 60.0


def test_nineteen_failures_across_clients_lock_nobody() -> None:
    """Below the global limit, clients with one failure each may go on."""
    lockout = Lockout()
    for n in range(19):
        lockout.failed(f"10.0.0.{n}", 5.0)

    assert lockout.retry_after("10.0.0.99", 5.0) == 0.0


def test_the_global_lockout_expires() -> None:
    """Sixty seconds after the global lock-out began, everyone may try again."""
    lockout = Lockout()
    for n in range(20):
        lockout.failed(f"10.0.0.{n}", 5.0)

    assert lockout.retry_after("10.0.0.99", 64.9) > 0.0
    assert lockout.retry_after("10.0.0.99", 65.0) == 0.0


def test_failures_outside_the_window_do_not_count_globally() -> None:
    """Failures older than the ten-minute window are forgotten by the global count."""
    lockout = Lockout()
    for n in range(19):
        lockout.failed(f"10.0.0.{n}", 0.0)
    lockout.failed("10.0.0.50", 601.0)

    assert lockout.retry_after("10.0.0.99", 601.0) == 0.0


def test_failures_inside_the_window_count_globally() -> None:
    """Twenty failures spread over less than ten minutes still lock everyone."""
    lockout = Lockout()
    for n in range(20):
        lockout.failed(f"10.0.0.{n}", n * 30.0)  # the last at 570 s

    assert lockout.retry_after("10.0.0.99", 570.0) == 60.0


def test_a_client_lockout_longer_than_the_global_one_wins() -> None:
    """A client locked for longer than the global lock-out waits for its own."""
    lockout = Lockout()
    lock_lengths(lockout, 3)  # A's third lock-out: 120 s, from t=90
    for n in range(20):
        lockout.failed(f"10.0.0.{n}", 100.0)

    assert lockout.retry_after(A, 100.0) == 110.0
    assert lockout.retry_after(B, 100.0) == 60.0
