"""When to try a failed delivery again: a schedule of delays with jitter.

Pure logic: the random source is passed in, so tests pin it.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from hookline.errors import ValidationError

#: Delays after the first attempt, in seconds: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix's).
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_JITTER = 0.2

#: Statuses whose ``Retry-After`` we honour: the receiver told us when it can take more.
RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry schedule: ``delays[i]`` is the wait after attempt ``i + 1`` fails.

    ``len(delays) + 1`` attempts are made in all; ``jitter`` spreads each delay by
    +/- that fraction so that a receiver's outage does not come back as a thundering
    herd; ``max_retry_after`` caps how long a receiver's ``Retry-After`` can push us.
    """

    delays: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = DEFAULT_JITTER
    max_retry_after: float = 3600.0

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.delays):
            raise ValidationError("retry delays must not be negative", field=("retrySchedule",))
        if not 0 <= self.jitter < 1:
            raise ValidationError("jitter must be in [0, 1)", field=("jitter",))

    @property
    def max_attempts(self) -> int:
        """Attempts made before a delivery is given up as failed."""
        return len(self.delays) + 1

    def next_delay(
        self,
        attempts_made: int,
        retry_after: float | None = None,
        random: Callable[[], float] = _random.random,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the schedule is spent.

        ``attempts_made`` counts the attempt that just failed. A ``retry_after``
        from the receiver replaces the scheduled delay when it is longer, within
        ``max_retry_after``.
        """
        if attempts_made < 1:
            raise ValueError("attempts_made counts the failed attempt, so it is at least 1")
        if attempts_made > len(self.delays):
            return None
        base = self.delays[attempts_made - 1]
        delay = base * (1 + self.jitter * (2 * random() - 1))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


def parse_schedule(text: str) -> tuple[float, ...]:
    """Parse ``"5s,5m,30m,2h"`` (or bare seconds) into delays in seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    delays = []
    for index, raw in enumerate(part.strip() for part in text.split(",")):
        if not raw:
            continue
        unit = units.get(raw[-1].lower())
        number = raw[:-1] if unit else raw
        try:
            value = float(number) * (unit or 1)
        except ValueError:
            raise ValidationError(
                f"retry schedule entry {raw!r} is not a duration like 5s, 5m or 2h",
                field=("retrySchedule", index),
            ) from None
        if value < 0:
            raise ValidationError(
                "retry delays must not be negative", field=("retrySchedule", index)
            )
        delays.append(value)
    return tuple(delays)


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Read a ``Retry-After`` header (seconds or an HTTP date) as seconds from ``now``."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)
