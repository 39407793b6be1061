"""SSRF defence: hostile destinations are refused, public ones pass (pure logic)."""

from __future__ import annotations

import ipaddress

import pytest

from hookline.domain.ssrf import (
    BlockedDestination,
    DestinationPolicy,
    check_resolved,
    check_url,
    parse_ip_literal,
)

from support.hostile import HOSTILE_LITERAL_URLS

POLICY = DestinationPolicy()


#: Names and what a (hostile) DNS answers for them.
HOSTILE_NAMES = {
    "localhost": ["127.0.0.1", "::1"],
    "metadata.google.internal": ["169.254.169.254"],
    "internal.example.com": ["10.20.30.40"],
    "rebind.example.com": ["93.184.216.34", "192.168.0.10"],
    "v6-private.example.com": ["fd00::5"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "cgnat.example.com": ["100.64.3.4"],
    "zero.example.com": ["0.0.0.0"],
}


@pytest.mark.parametrize("url", HOSTILE_LITERAL_URLS)
def test_hostile_literal_url_is_refused(url: str) -> None:
    """A URL whose host is a non-public address, however spelled, is refused."""
    with pytest.raises(BlockedDestination, match="refused"):
        check_url(url, POLICY)


@pytest.mark.parametrize(("name", "answers"), sorted(HOSTILE_NAMES.items()))
def test_name_resolving_to_private_address_is_refused(name: str, answers: list[str]) -> None:
    """A name is refused when any address it resolves to is not public."""
    addresses = [ipaddress.ip_address(a) for a in answers]
    with pytest.raises(BlockedDestination, match=f"{name} resolves to"):
        check_resolved(name, addresses, POLICY)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://93.184.216.34/x",
        "https://[2606:4700::1111]/",
        "http://1.1.1.1:8080/",
    ],
)
def test_public_destination_passes(url: str) -> None:
    """Public addresses and names pass the literal check."""
    assert check_url(url, POLICY).host


def test_allow_list_lets_loopback_through_on_purpose() -> None:
    """An allowed network is deliverable; everything else stays refused."""
    policy = DestinationPolicy.from_strings(["127.0.0.0/8"])
    assert check_url("http://127.0.0.1:9000/", policy).port == 9000
    with pytest.raises(BlockedDestination):
        check_url("http://10.0.0.1/", policy)


def test_https_only_refuses_plain_http() -> None:
    """With https_only, an http:// URL is refused and says why."""
    policy = DestinationPolicy(https_only=True)
    with pytest.raises(BlockedDestination, match="https"):
        check_url("http://example.com/", policy)
    assert check_url("https://example.com/", policy).scheme == "https"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "http://user:pw@example.com/"],
)
def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    """Only http(s) URLs without credentials are accepted."""
    with pytest.raises(BlockedDestination):
        check_url(url, POLICY)


def test_odd_ipv4_spellings_parse_like_inet_aton() -> None:
    """Decimal, octal, hex and short IPv4 forms read as the address a resolver would use."""
    expected = ipaddress.ip_address("127.0.0.1")
    for spelling in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "127.0.0.1."):
        assert parse_ip_literal(spelling) == expected
    assert parse_ip_literal("example.com") is None
    assert parse_ip_literal("1.2.3.4.5") is None


def test_disabled_policy_allows_everything() -> None:
    """With the defence switched off, nothing is refused."""
    assert check_url("http://127.0.0.1/", DestinationPolicy(enabled=False)).literal is not None
