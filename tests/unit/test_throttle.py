"""The failed-authentication throttle: per address, refilled over the window, bounded."""

from __future__ import annotations

import pytest

from hookline.domain.throttle import FailureThrottle, address_key


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_pass_up_to_the_limit_then_wait_for_the_window_to_refill() -> None:
    """Five failures in a 60 s window are answered as usual; the sixth waits 12 s, and
    one more is allowed each 12 s after."""
    clock = Clock()
    throttle = FailureThrottle(5, 60, clock)
    assert [throttle.failed("203.0.113.7") for _ in range(5)] == [0.0] * 5
    assert throttle.failed("203.0.113.7") == pytest.approx(12.0)
    clock.now += 11.9
    assert throttle.failed("203.0.113.7") == pytest.approx(0.1)
    clock.now += 0.1
    assert throttle.failed("203.0.113.7") == 0.0
    assert throttle.failed("203.0.113.7") == pytest.approx(12.0)


def test_refused_failures_do_not_push_the_wait_further() -> None:
    """A client that keeps failing while refused is told the same moment, not a later one."""
    clock = Clock()
    throttle = FailureThrottle(2, 10, clock)
    throttle.failed("198.51.100.1")
    throttle.failed("198.51.100.1")
    waits = []
    for _ in range(5):
        waits.append(throttle.failed("198.51.100.1"))
        clock.now += 1
    assert waits == pytest.approx([5.0, 4.0, 3.0, 2.0, 1.0])


def test_addresses_are_counted_apart_and_ipv6_by_its_64() -> None:
    """One address over the limit leaves another alone; IPv6 addresses of one /64 count
    as one, and an IPv4-mapped address as its IPv4 address."""
    throttle = FailureThrottle(1, 60, Clock())
    assert throttle.failed("192.0.2.1") == 0.0
    assert throttle.failed("192.0.2.1") > 0
    assert throttle.failed("192.0.2.2") == 0.0
    assert throttle.failed("2001:db8:1:2::1") == 0.0
    assert throttle.failed("2001:db8:1:2:ffff::9") > 0
    assert throttle.failed("2001:db8:1:3::1") == 0.0
    assert throttle.failed("::ffff:192.0.2.2") > 0
    assert address_key("not an address") == "not an address"


def test_no_limit_never_refuses() -> None:
    """A limit of 0 turns the throttle off."""
    throttle = FailureThrottle(0, 60, Clock())
    assert {throttle.failed("192.0.2.1") for _ in range(1000)} == {0.0}


def test_memory_stays_bounded_under_a_flood_of_addresses() -> None:
    """However many addresses fail, at most max_addresses are remembered."""
    clock = Clock()
    throttle = FailureThrottle(3, 60, clock, max_addresses=100)
    for index in range(1000):
        throttle.failed(f"10.0.{index // 256}.{index % 256}")
        clock.now += 0.01
    assert len(throttle) <= 100
