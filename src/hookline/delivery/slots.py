"""A worker's slots: how many requests it may start, to whom, and when to claim more.

Pure bookkeeping, no I/O and no clock (the worker's timers call in): ``concurrency``
deliveries in flight at most, ``endpoint_concurrency`` requests per endpoint, and
a slow lane. A request unanswered after ``slow_after`` moves to the slow lane,
which holds up to ``concurrency // 2`` deliveries: their slots go to other work,
so endpoints that hang cannot hold every slot, and what is in flight stays bounded.

Claims go in batches: the worker claims again once a quarter of its slots (or of
its claim batch) are free, or when an endpoint that was at its cap frees a slot.
"""

from __future__ import annotations

from collections import Counter


class Slots:
    """The slot accounting of one worker."""

    def __init__(self, concurrency: int, endpoint_concurrency: int, claim_batch: int) -> None:
        self.concurrency = concurrency
        self.endpoint_concurrency = endpoint_concurrency
        self.claim_batch = claim_batch
        #: Claim again once this many slots are free (a quarter of a claim).
        self.refill_at = max(1, min(claim_batch, concurrency) // 4)
        #: Deliveries in flight (a batch request holds one per delivery).
        self.deliveries = 0
        #: Requests in flight per endpoint.
        self.per_endpoint: Counter[str] = Counter()
        #: Requests in the slow lane, by key, with their deliveries.
        self.slow: dict[str, int] = {}
        self.slow_deliveries = 0
        #: Endpoints at their cap at the last claim: a slot of theirs frees work.
        self.blocked: set[str] = set()

    @property
    def free(self) -> int:
        """Deliveries that may start now (the slow lane's do not count)."""
        return self.concurrency - self.deliveries + self.slow_deliveries

    def should_wait(self) -> bool:
        """Too few slots free to be worth a claim, while requests are still out."""
        return self.free < self.refill_at and self.deliveries > 0

    def wanted(self) -> int:
        """How many deliveries the next claim asks for."""
        return min(self.free, self.claim_batch)

    def busy(self) -> dict[str, int]:
        """Requests in flight per endpoint, for the claim's per-endpoint caps."""
        return dict(self.per_endpoint)

    def at_cap(self, endpoint_id: str) -> bool:
        """The endpoint already has ``endpoint_concurrency`` requests out."""
        return self.per_endpoint[endpoint_id] >= self.endpoint_concurrency

    def start(self, endpoint_id: str, deliveries: int) -> None:
        """A request of ``deliveries`` deliveries to ``endpoint_id`` goes out."""
        self.deliveries += deliveries
        self.per_endpoint[endpoint_id] += 1

    def grow(self, deliveries: int) -> None:
        """A batch request took ``deliveries`` more (a top-up)."""
        self.deliveries += deliveries

    def claimed(self) -> None:
        """After a claim: note the endpoints now at their cap."""
        cap = self.endpoint_concurrency
        self.blocked = {ep for ep, n in self.per_endpoint.items() if n >= cap}

    def to_slow_lane(self, key: str, deliveries: int) -> bool:
        """Move a request that is slow to answer to the slow lane, if it has room."""
        if key in self.slow or self.slow_deliveries + deliveries > self.concurrency // 2:
            return False
        self.slow[key] = deliveries
        self.slow_deliveries += deliveries
        return True

    def finish(self, key: str, endpoint_id: str, deliveries: int) -> bool:
        """A request is over; True if that frees work the worker waits for (a blocked
        endpoint's slot, or enough slots for a claim)."""
        self.slow_deliveries -= self.slow.pop(key, 0)
        self.deliveries -= deliveries
        left = self.per_endpoint[endpoint_id] - 1
        if left <= 0:
            del self.per_endpoint[endpoint_id]
        else:
            self.per_endpoint[endpoint_id] = left
        return endpoint_id in self.blocked or self.free >= self.refill_at

    def claim_worthwhile(self) -> bool:
        """Enough slots are free for a claim."""
        return self.free >= self.refill_at
