"""The figures pages show, read through the storage port: endpoint health, charts of
attempts over time, and inbound sources with their counts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from hookline.domain.models import (
    Attempt,
    AttemptStatus,
    Delivery,
    Endpoint,
    EndpointStats,
    Source,
)
from hookline.domain.series import SourceStats
from hookline.errors import NotFoundError
from hookline.storage.base import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    Cursor,
    DeliveryState,
    Storage,
)
from hookline.web import charts


async def deliveries(
    storage: Storage, msg_id: str, endpoints: Sequence[Endpoint]
) -> list[Delivery | None]:
    """A message's delivery to each of ``endpoints``, in order; None where it has none."""

    async def one(endpoint_id: str) -> Delivery | None:
        try:
            return await storage.get_delivery(msg_id, endpoint_id)
        except NotFoundError:
            return None

    return list(await asyncio.gather(*(one(e.id) for e in endpoints)))


@dataclass(frozen=True, slots=True)
class Health:
    """How an endpoint is doing: delivery counts, last error, pause and circuit."""

    endpoint: Endpoint
    stats: EndpointStats
    last_error: Attempt | None
    state: DeliveryState

    @property
    def success_rate(self) -> float | None:
        """Succeeded deliveries out of finished ones (None before any finished)."""
        finished = self.stats.success + self.stats.fail
        return self.stats.success / finished if finished else None


async def health(storage: Storage, app_id: str, endpoint: Endpoint, now: float) -> Health:
    """The health of one endpoint."""
    failed = AttemptFilter(endpoint_id=endpoint.id, status=AttemptStatus.FAIL)
    stats, errors, state = await asyncio.gather(
        storage.endpoint_stats(app_id, endpoint.id, BEGINNING, END_OF_TIME),
        storage.list_attempts(app_id, Cursor(limit=1), failed),
        storage.delivery_state(app_id, endpoint.id, now),
    )
    return Health(endpoint, stats, errors.data[0] if errors.data else None, state)


async def healths(
    storage: Storage, app_id: str, endpoints: Sequence[Endpoint], now: float
) -> list[Health]:
    """The health of each endpoint, read side by side."""
    return list(await asyncio.gather(*(health(storage, app_id, e, now) for e in endpoints)))


@dataclass(frozen=True, slots=True)
class Charts:
    """The charts of one window, and the windows one can switch to."""

    window: str
    windows: tuple[str, ...]
    rate: charts.Chart
    success: charts.Chart
    latency: charts.Chart


async def window_charts(
    storage: Storage, app_id: str | None, window: str | None, now: float
) -> Charts:
    """Attempts of one application (or all) over the chosen window, as three charts."""
    name, since, until, bucket = charts.window(window, now)
    series = await storage.attempt_series(app_id, since, until, bucket)
    rate, success, latency = charts.charts(series, bucket)
    return Charts(name, tuple(charts.WINDOWS), rate, success, latency)


@dataclass(frozen=True, slots=True)
class SourceRow:
    """An inbound source and what it received."""

    source: Source
    stats: SourceStats


async def sources(storage: Storage, app_id: str, cursor: Cursor) -> tuple[list[SourceRow], bool]:
    """A page of the application's inbound sources with their counts, and whether it is the last."""
    page = await storage.list_sources(app_id, cursor)
    counts = await storage.source_stats([s.id for s in page.data]) if page.data else {}
    rows = [SourceRow(s, counts.get(s.id, SourceStats())) for s in page.data]
    return rows, page.done
