"""A source's allowlist and rate limit (``domain.ingress``): who is the client, who may send."""

from __future__ import annotations

import ipaddress

import pytest

from hookline.domain import ingress
from hookline.errors import ValidationError


def test_networks_are_normalised_and_a_bad_one_is_named_by_its_index() -> None:
    assert ingress.parse_networks(["192.0.2.7", " 2001:db8::/32", "192.0.2.7/32"], ("n",)) == (
        "192.0.2.7/32",
        "2001:db8::/32",
    )
    with pytest.raises(ValidationError) as bad:
        ingress.parse_networks(["10.0.0.0/8", "10.0.0.1/8"], ("allowedNetworks",))
    assert bad.value.field == ("allowedNetworks", 1)
    with pytest.raises(ValidationError) as garbled:
        ingress.parse_networks(["not-an-ip"], ("allowedNetworks",))
    assert garbled.value.field == ("allowedNetworks", 0)
    with pytest.raises(ValidationError):
        ingress.parse_networks([f"10.0.{i // 256}.{i % 256}" for i in range(300)], ("n",))


def test_the_clients_address_is_read_as_ipv4_when_it_is() -> None:
    assert ingress.client_address("203.0.113.5") == ipaddress.ip_address("203.0.113.5")
    assert ingress.client_address("::ffff:192.0.2.1") == ipaddress.ip_address("192.0.2.1")
    assert ingress.client_address("2001:db8::7") == ipaddress.ip_address("2001:db8::7")
    assert ingress.client_address("unix-socket") is None
    assert ingress.client_address(None) is None


def test_an_empty_allowlist_allows_anyone_and_a_list_only_its_networks() -> None:
    allow = ingress.networks(("192.0.2.0/24", "2001:db8::/32"))
    assert ingress.allowed(ipaddress.ip_address("203.0.113.1"), ())
    assert ingress.allowed(None, ())
    assert ingress.allowed(ipaddress.ip_address("192.0.2.200"), allow)
    assert ingress.allowed(ipaddress.ip_address("2001:db8::1"), allow)
    assert not ingress.allowed(ipaddress.ip_address("192.0.3.1"), allow)
    assert not ingress.allowed(None, allow)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_source_takes_a_seconds_worth_at_once_then_its_rate() -> None:
    clock = Clock()
    rates = ingress.SourceRates(monotonic=clock)
    assert [rates.wait("src_a", 4) for _ in range(4)] == [0.0] * 4
    wait = rates.wait("src_a", 4)
    assert wait == pytest.approx(0.25)
    assert rates.wait("src_b", 4) == 0.0  # each source has its own budget
    assert rates.wait("src_a", None) == 0.0
    clock.now += 0.25
    assert rates.wait("src_a", 4) == 0.0  # a refused request was not counted
    assert rates.wait("src_a", 4) > 0


def test_processes_share_a_sources_rate() -> None:
    clock = Clock()
    rates = ingress.SourceRates(share=2, monotonic=clock)
    assert [rates.wait("src", 10) for _ in range(5)] == [0.0] * 5
    assert rates.wait("src", 10) == pytest.approx(0.2)
    # A rate below the share still lets one request through per interval.
    assert rates.wait("slow", 1) == 0.0
    assert rates.wait("slow", 1) == pytest.approx(2.0)
