"""Failed authentications, throttled per client address.

``FailureThrottle.failed(address)`` is called on a failed authentication only (a
bad API token, a sign-in with a wrong token): it counts the failure and says how
long the address must wait (0: answer as usual, 401; more: 429 with that
``Retry-After``). Valid tokens never reach it, so they cost nothing and pass from
a throttled address too (a service behind the same NAT as a misconfigured one).

Each address has a GCRA bucket, one float: ``limit`` failures at once, refilled
at ``limit`` per ``window`` seconds. IPv6 addresses count by their /64, the
block one host usually has. At most ``max_addresses`` are remembered: full, the
refilled ones are forgotten, then the oldest.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

#: Addresses remembered at most (a float each).
MAX_ADDRESSES = 50_000
_IPV6_BLOCK = 64


def address_key(address: str) -> str:
    """What failures of ``address`` count under: itself, or its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, _IPV6_BLOCK), strict=False))
    return address


class FailureThrottle:
    """``limit`` failed authentications per ``window`` seconds per address (0: no limit)."""

    def __init__(
        self,
        limit: int,
        window: float,
        monotonic: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.limit = limit
        self.window = window
        self.interval = window / limit if limit else 0.0
        self.monotonic = monotonic
        self.max_addresses = max_addresses
        #: Per address key: the time its bucket is full again (GCRA's theoretical arrival).
        self._full_at: dict[str, float] = {}

    def failed(self, address: str) -> float:
        """Count a failure of ``address``: 0 if under the limit, else seconds to wait."""
        if not self.limit:
            return 0.0
        key = address_key(address)
        now = self.monotonic()
        full_at = self._full_at.get(key)
        if full_at is None:
            if len(self._full_at) >= self.max_addresses:
                self._forget(now)
            full_at = now
        after = max(full_at, now) + self.interval
        wait = after - now - self.window
        if wait > 0:
            return wait  # refused: not counted, so the address gets ``limit`` per window
        self._full_at[key] = after
        return 0.0

    def __len__(self) -> int:
        """How many addresses are remembered."""
        return len(self._full_at)

    def _forget(self, now: float) -> None:
        """Make room: drop refilled buckets, else the oldest half."""
        for key in [k for k, full_at in self._full_at.items() if full_at <= now]:
            del self._full_at[key]
        if len(self._full_at) >= self.max_addresses:
            for key in list(self._full_at)[: self.max_addresses // 2 or 1]:
                del self._full_at[key]
