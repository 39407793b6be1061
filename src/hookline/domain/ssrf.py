"""SSRF defence: which destinations hookline refuses to send to. Pure logic, no I/O.

A webhook platform makes requests to URLs its users type in, so without a guard
any user could make it call the cloud metadata service or an internal admin
port. Every address a URL resolves to is checked against this policy, at
registration and again at delivery, and the delivery then connects only to an
address that passed (see ``delivery.transport``), so DNS cannot be re-bound
between the check and the connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from hookline.errors import HooklineError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud metadata services, named outright so the refusal says so.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedDestination(HooklineError):
    """The destination is refused by policy; ``reason`` says why, for the user."""

    code = "blocked_destination"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """What may be called: public addresses, plus networks allowed on purpose."""

    enabled: bool = True
    allowed_networks: tuple[IPNetwork, ...] = ()
    https_only: bool = False

    @classmethod
    def from_strings(
        cls, allowed: Iterable[str], *, enabled: bool = True, https_only: bool = False
    ) -> DestinationPolicy:
        """Build from CIDR strings such as ``127.0.0.0/8``."""
        networks = tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in allowed if n.strip()
        )
        return cls(enabled=enabled, allowed_networks=networks, https_only=https_only)

    def refusal(self, address: IPAddress) -> str | None:
        """What kind of forbidden address ``address`` is ("a loopback address"), or None."""
        if not self.enabled:
            return None
        if any(address in network for network in self.allowed_networks):
            return None
        return classify(address)


def classify(address: IPAddress) -> str | None:
    """Name the non-public kind of ``address``, e.g. "a loopback address" (None if public)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind = classify(embedded)
            return f"{kind} ({embedded}) inside an IPv6 address" if kind else None
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "carrier-grade NAT"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    )
    for hit, kind in checks:
        if hit:
            article = "an" if kind[0] in "aeiou" else "a"
            return f"{article} {kind} address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """Read ``host`` as an IP address, including IPv4's odd spellings.

    Resolvers accept ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` as
    127.0.0.1 (inet_aton rules, which WHATWG URLs follow too), so we must read
    them the same way to judge them.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        pass
    parts = text.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # a trailing dot names the same host
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        number = _inet_aton_part(part)
        if number is None:
            return None
        numbers.append(number)
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _inet_aton_part(part: str) -> int | None:
    lowered = part.lower()
    try:
        if lowered.startswith("0x"):
            return int(lowered[2:] or "0", 16)
        if len(lowered) > 1 and lowered.startswith("0"):
            return int(lowered[1:], 8)
        if lowered.isdigit():
            return int(lowered)
    except ValueError:
        return None
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """The parts of an endpoint URL that the guard and the transport need."""

    scheme: str
    host: str
    port: int
    literal: IPAddress | None


def check_url(url: str, policy: DestinationPolicy) -> Target:
    """Check what can be checked without DNS: scheme, credentials, and literal addresses."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise BlockedDestination(f"the URL is malformed: {error}") from None
    if parts.scheme not in {"http", "https"}:
        raise BlockedDestination("only http:// and https:// URLs can receive webhooks")
    if policy.https_only and parts.scheme != "https":
        raise BlockedDestination("this server only delivers to https:// URLs")
    host = parts.hostname
    if not host:
        raise BlockedDestination("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BlockedDestination("the URL must not carry credentials")
    literal = parse_ip_literal(host)
    if literal is not None:
        kind = policy.refusal(literal)
        if kind:
            raise BlockedDestination(f"refused: {literal} is {kind}")
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        literal=literal,
    )


def check_resolved(
    host: str, addresses: Iterable[IPAddress], policy: DestinationPolicy
) -> list[IPAddress]:
    """Keep the addresses ``policy`` allows; refuse if any is not allowed.

    Refusing when *any* answer is private (not only when all are) stops a name
    that mixes a public and a private address from reaching the private one.
    """
    found = list(addresses)
    if not found:
        raise BlockedDestination(f"{host} did not resolve to any address")
    for address in found:
        kind = policy.refusal(address)
        if kind:
            raise BlockedDestination(f"refused: {host} resolves to {address}, {kind}")
    return found
