"""Who may send to an inbound source, and how often: its allowlist and its rate limit.

A source may name the networks its provider sends from (``allowed_networks``, CIDRs;
empty: anyone) and a rate (``rate_limit``, requests per second; None: no limit). The
gateway checks both before it verifies a signature, so a flood from elsewhere costs a
dictionary lookup, not an HMAC.

The client's address is the socket's peer, unless that peer is a proxy the operator
trusts (``HOOKLINE_TRUSTED_PROXIES``): then the HTTP server (uvicorn's proxy-headers
support, configured in ``server_limits``) has put in its place the right-most address of
``X-Forwarded-For`` that is not itself a trusted proxy. Addresses to the left of it
were written by the client and prove nothing, so they are never read.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Callable, Iterable, Sequence

from hookline.errors import ValidationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The most networks one source may list (a provider publishes a few dozen at most).
MAX_NETWORKS = 256
#: The highest per-source rate, requests per second.
MAX_RATE = 100_000


def parse_networks(values: Iterable[str], field: tuple[str | int, ...]) -> tuple[str, ...]:
    """``values`` as normalised CIDRs (``10.0.0.7`` becomes ``10.0.0.7/32``).

    Raises ``ValidationError`` naming ``field`` and the item's index for one that is not
    an address or network, or one with host bits set (``10.0.0.7/8``: which was meant?).
    """
    found: list[str] = []
    for index, value in enumerate(values):
        if len(found) >= MAX_NETWORKS:
            raise ValidationError(f"at most {MAX_NETWORKS} networks", field=field)
        try:
            network = ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as error:
            raise ValidationError(
                f"{value!r} is not an IP network in CIDR notation ({error})",
                field=(*field, index),
            ) from None
        found.append(str(network))
    return tuple(dict.fromkeys(found))


@functools.lru_cache(maxsize=4096)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """Parsed networks of CIDRs already checked by ``parse_networks`` (kept: the gateway
    asks for a source's on each of its requests)."""
    return tuple(ipaddress.ip_network(c) for c in cidrs)


def client_address(peer: str | None) -> Address | None:
    """The client's address as the server saw it (None if it is not an IP address); an
    IPv4 client seen through a dual-stack socket counts as its IPv4 address."""
    if not peer:
        return None
    try:
        parsed = ipaddress.ip_address(peer)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _within(address: Address, nets: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def allowed(address: Address | None, allowlist: Sequence[Network]) -> bool:
    """Whether a client at ``address`` may send to a source listing ``allowlist``."""
    if not allowlist:
        return True
    return address is not None and _within(address, allowlist)


class SourceRates:
    """Each source's rate limit: a GCRA time per source, a burst of one second's worth.

    ``wait(source_id, rate)`` counts one request and answers 0 (go on) or the seconds
    until the next would be taken (429 with that ``Retry-After``). A refused request is
    not counted, so a provider that backs off gets its full rate back. ``share``
    divides each rate among processes that each keep their own count (the API
    processes behind one port share the load about evenly).
    """

    def __init__(
        self,
        share: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
        max_sources: int = 100_000,
    ) -> None:
        self.share = max(1, share)
        self.monotonic = monotonic
        self.max_sources = max_sources
        self._due: dict[str, float] = {}

    def wait(self, source_id: str, rate: float | None) -> float:
        """Count a request to ``source_id`` limited to ``rate`` per second (None: no limit)."""
        if not rate:
            return 0.0
        rate = rate / self.share
        interval = 1.0 / rate
        burst = max(1.0, rate) * interval  # one second's worth, at least one request
        now = self.monotonic()
        due = max(self._due.get(source_id, now), now)
        if due - now + interval > burst + 1e-9:
            return due - now + interval - burst
        if len(self._due) >= self.max_sources and source_id not in self._due:
            self._due = {k: v for k, v in self._due.items() if v > now}
        self._due[source_id] = due + interval
        return 0.0
