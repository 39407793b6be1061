"""Plans: named limits an application takes, with its own overrides; quotas and periods.

A plan's ``limits`` are named values (``LIMITS``); an application's effective limits
are its plan's with its overrides on top. The message quotas (per UTC day and per UTC
month) are enforced at publish, counted in the database in the publish's transaction;
the other values are kept with the plan for the delivery settings that read them.
Pure: times are arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookline.errors import HooklineError

#: Every value a plan may hold, and its JSON type (checked by the API's models).
LIMITS = (
    "retry_schedule", "request_timeout", "max_attempts", "throttle_rate", "max_endpoints",
    "max_in_flight", "messages_per_day", "messages_per_month", "retention_days",
    "max_payload_bytes", "default_priority",
)  # fmt: skip


class QuotaExceededError(HooklineError):
    """A publish over an application's message quota (API: 429): which quota, and when
    it resets (epoch seconds)."""

    code = "quota_exceeded"

    def __init__(self, quota: str, limit: int, resets_at: float, now: float) -> None:
        when = datetime.fromtimestamp(resets_at, UTC).isoformat().replace("+00:00", "Z")
        super().__init__(f"the {quota} quota of {limit} messages is used up; it resets at {when}")
        self.quota = quota
        self.limit = limit
        self.resets_at = resets_at
        #: Whole seconds until the reset, at least 1 (an answer's Retry-After).
        self.retry_after = max(1, math.ceil(resets_at - now))


@dataclass(frozen=True, slots=True)
class Plan:
    """A named set of limits."""

    name: str
    limits: dict[str, Any]
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Quota:
    """One message quota as it stands for a period."""

    name: str  # "messages_per_day" or "messages_per_month"
    period: str  # the counter's key: "day:2026-12-07", "month:2026-12"
    limit: int
    resets_at: float


def effective(
    plan_limits: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The plan's limits with the application's overrides on top (a None override unsets)."""
    merged = dict(plan_limits or {})
    for key, value in (overrides or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def periods(now: float) -> list[tuple[str, str, float]]:
    """The quota periods ``now`` falls in: (quota name, counter key, when it resets)."""
    moment = datetime.fromtimestamp(now, UTC)
    day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    next_month = month_start.replace(
        year=month_start.year + (month_start.month == 12), month=month_start.month % 12 + 1
    )
    return [
        ("messages_per_day", f"day:{day_start:%Y-%m-%d}", day_start.timestamp() + 86400),
        ("messages_per_month", f"month:{month_start:%Y-%m}", next_month.timestamp()),
    ]


def quotas(limits: Mapping[str, Any], now: float) -> list[Quota]:
    """The message quotas the limits set, for the periods ``now`` falls in."""
    return [
        Quota(name, period, int(limits[name]), resets_at)
        for name, period, resets_at in periods(now)
        if limits.get(name) is not None
    ]
