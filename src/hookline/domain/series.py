"""Figures over time for the dashboard: attempts per bucket, success rate, latency
percentiles. Pure logic over (time, status, duration) points."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hookline.domain.models import AttemptStatus


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket: when it starts, attempts made, how many succeeded, latency percentiles."""

    at: float
    attempts: int
    succeeded: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def percentile(sorted_values: list[int], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return float(sorted_values[rank])


@dataclass(frozen=True, slots=True)
class SourceStats:
    """What an inbound source received: stored events, duplicate copies, rejected requests
    (bad signatures), forbidden ones (not on its allowlist) and limited ones (over its rate)."""

    received: int = 0
    duplicates: int = 0
    rejected: int = 0
    last_received_at: float | None = None
    forbidden: int = 0
    limited: int = 0


@dataclass(frozen=True, slots=True)
class Refusals:
    """Requests a source refused since the last count: why, how many."""

    rejected: int = 0
    forbidden: int = 0
    limited: int = 0


def bucketed(
    points: Iterable[tuple[float, int, int]], since: float, until: float, bucket: float
) -> list[SeriesPoint]:
    """Every bucket of ``bucket`` seconds from ``since`` to ``until``, empty ones included."""
    count = max(1, int((until - since) // bucket) + (1 if (until - since) % bucket else 0))
    durations: list[list[int]] = [[] for _ in range(count)]
    succeeded = [0] * count
    for at, status, duration_ms in points:
        index = int((at - since) // bucket)
        if 0 <= index < count:
            durations[index].append(duration_ms)
            succeeded[index] += status == AttemptStatus.SUCCESS
    series = []
    for index in range(count):
        values = sorted(durations[index])
        series.append(
            SeriesPoint(
                at=since + index * bucket,
                attempts=len(values),
                succeeded=succeeded[index],
                p50_ms=percentile(values, 0.5),
                p95_ms=percentile(values, 0.95),
                p99_ms=percentile(values, 0.99),
            )
        )
    return series
