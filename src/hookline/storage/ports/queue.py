"""The worker's role: the delivery queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from hookline.storage.records import ClaimedDelivery, Outcome


class DeliveryQueue(Protocol):
    """The queue a delivery worker pulls from: claim under a lease, record, give back."""

    async def claim(
        self,
        worker: str,
        now: float,
        lease_until: float,
        limit: int,
        busy: Mapping[str, int] | None = None,
        per_endpoint: int | None = None,
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries, oldest due first.

        With ``per_endpoint``, no endpoint gets more than that many minus what the
        worker already has in flight to it (``busy``, by endpoint id).
        """

    async def claim_batch(
        self, worker: str, endpoint_id: str, since: float, exclude: Sequence[str], limit: int,
        lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        """Lease up to ``limit`` more unsent first attempts of a batching endpoint, made
        since ``since`` (not yet due), to fill a batch of already claimed ``exclude``."""

    async def start_probes(self, now: float) -> int:
        """Half-open the circuits whose cool-down has passed, each with one probe delivery."""

    async def release(self, worker: str, delivery_ids: Sequence[str]) -> None:
        """Give leased deliveries back unattempted, due as before."""

    async def record(self, worker: str, outcomes: Sequence[Outcome], now: float) -> None:
        """Write attempts and move deliveries on, in one transaction."""

    async def next_due(self) -> float | None:
        """When the earliest pending delivery falls due (None if there is none)."""

    async def wait_for_work(self, timeout: float) -> None:
        """Return when new work may be due, or after ``timeout`` seconds."""
