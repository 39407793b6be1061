"""Deduplication of inbound events by the provider's event id.

Providers deliver at least once: a retry after a lost answer carries the same id
(``webhook-id``, ``X-GitHub-Delivery``, Stripe's event ``id``...). A
:class:`Deduplicator` remembers the ids it has let through, so the second copy is
acknowledged without being handled again.

:class:`MemoryDeduplicator` is the in-process default of the in-app helpers: it
forgets on restart and is not shared between processes, so it narrows duplicates
rather than ruling them out. A durable, shared one belongs in storage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

__all__ = ["DEFAULT_DEDUP_ENTRIES", "DEFAULT_DEDUP_TTL", "Deduplicator", "MemoryDeduplicator"]

#: Three days: Stripe retries for up to three days, the longest of the usual providers.
DEFAULT_DEDUP_TTL = 3 * 24 * 3600.0
#: Enough for a busy receiver's three days at a few hundred thousand ids; about 100 bytes each.
DEFAULT_DEDUP_ENTRIES = 200_000


class Deduplicator(Protocol):
    """Remembers event ids; tells whether one is seen for the first time."""

    def first_time(self, event_id: str, now: float) -> bool:
        """Record ``event_id`` and return True, or return False if it was already recorded."""
        ...

    def forget(self, event_id: str) -> None:
        """Drop ``event_id``, so that the provider's retry is handled (the handler failed)."""
        ...


class MemoryDeduplicator:
    """Thread-safe, in-memory ids, each kept ``ttl`` seconds, at most ``max_entries``.

    When full, the oldest id is dropped first: the bound costs at worst a duplicate
    that is handled twice, never an event that is refused.
    """

    def __init__(
        self, ttl: float = DEFAULT_DEDUP_TTL, max_entries: int = DEFAULT_DEDUP_ENTRIES
    ) -> None:
        if ttl <= 0 or max_entries <= 0:
            raise ValueError("ttl and max_entries must be positive")
        self._ttl = ttl
        self._max_entries = max_entries
        # id -> expiry, in insertion order, which is expiry order for a steady clock.
        self._expiries: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiries)

    def first_time(self, event_id: str, now: float) -> bool:
        """Record ``event_id`` and return True, or return False if it is still recorded."""
        with self._lock:
            self._drop_expired(now)
            expiry = self._expiries.get(event_id)
            if expiry is not None and expiry > now:
                return False
            self._expiries[event_id] = now + self._ttl
            self._expiries.move_to_end(event_id)
            while len(self._expiries) > self._max_entries:
                self._expiries.popitem(last=False)
            return True

    def forget(self, event_id: str) -> None:
        """Drop ``event_id`` if recorded."""
        with self._lock:
            self._expiries.pop(event_id, None)

    def _drop_expired(self, now: float) -> None:
        # Stops at the first live id: the rest are younger (a clock that stepped back
        # can leave a stale id behind it, which the expiry check on lookup still catches).
        while self._expiries:
            oldest_id, expiry = next(iter(self._expiries.items()))
            if expiry > now:
                return
            del self._expiries[oldest_id]
