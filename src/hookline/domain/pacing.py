"""An endpoint's pace: its rate limit, and how a 429 slows it down. Pure logic.

The rate limit is a GCRA (generic cell rate algorithm): the endpoint's state is
one time, its *theoretical arrival time* (TAT). A request may go at
``max(TAT, now)``, and each one moves the TAT on by ``1 / rate``. So requests are
spaced evenly and never more than ``rate`` go in any second, however many workers
share the endpoint: they update one stored TAT inside their claim transactions.

A 429 halves the endpoint's rate (multiplicative decrease) and holds everything
until its Retry-After; the rate then grows back by ``RECOVERY`` per second
(exponential recovery) until it reaches the configured limit (or, for an
endpoint without one, until it is far above what the endpoint took before).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Growth of a throttled rate per second without another 429 (doubling in ~7 s).
RECOVERY = 1.1
#: The slowest pace a 429 can impose, in requests per second.
MIN_RATE = 0.2
#: An endpoint without a configured limit is free again when its throttled rate has
#: grown this many times over.
UNLIMITED_RECOVERY_FACTOR = 16.0
#: How far ahead of now a claim may book a request (it then waits for its slot).
HORIZON = 1.0
#: How soon work held back by ``max_in_flight`` is looked at again.
RECHECK = 0.05


@dataclass(frozen=True, slots=True)
class Pace:
    """The stored pace of one endpoint."""

    tat: float = 0.0
    throttled_at: float | None = None
    throttled_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """What a claim may do with an endpoint's candidates, in their order.

    ``send_at`` holds the slot of each admitted candidate (the worker waits for
    it); ``postpone_to`` the slot of each one that must wait for a later claim.
    """

    send_at: list[float]
    postpone_to: list[float]
    pace: Pace


def effective_rate(configured: float | None, pace: Pace, now: float) -> float | None:
    """The rate in force now: the configured limit, or less while recovering from a 429."""
    if pace.throttled_rate is None or pace.throttled_at is None:
        return configured
    grown: float = pace.throttled_rate * RECOVERY ** max(now - pace.throttled_at, 0.0)
    ceiling = (
        configured if configured is not None else pace.throttled_rate * UNLIMITED_RECOVERY_FACTOR
    )
    if grown >= ceiling:
        return configured
    return grown


def admit(
    candidates: int,
    configured: float | None,
    pace: Pace,
    now: float,
    in_flight: int = 0,
    max_in_flight: int | None = None,
) -> Admission:
    """Book slots for ``candidates`` due requests to one endpoint.

    ``in_flight`` requests (across every worker) already hold the endpoint; with
    ``max_in_flight`` no more than that may be out at once: the rest are looked at
    again ``RECHECK`` seconds later.
    """
    room = candidates if max_in_flight is None else max(max_in_flight - in_flight, 0)
    rate = effective_rate(configured, pace, now)
    if pace.throttled_rate is not None and rate == configured:
        pace = Pace(tat=pace.tat)  # recovered from its 429: forget the slower rate
    if rate is None:
        admitted = min(candidates, room)
        return Admission([now] * admitted, [now + RECHECK] * (candidates - admitted), pace)
    interval = 1.0 / rate
    tat = max(pace.tat, now)
    send_at: list[float] = []
    postpone_to: list[float] = []
    for _ in range(candidates):
        if len(send_at) < room and tat <= now + HORIZON + 1e-9:
            send_at.append(tat)
            tat += interval
        else:
            # Spread the rest over their future slots, so each falls due once, in turn.
            later = tat + interval * len(postpone_to) if tat > now + HORIZON else now + RECHECK
            postpone_to.append(later)
    return Admission(send_at, postpone_to, _booked(pace, tat if send_at else pace.tat))


def _booked(pace: Pace, tat: float) -> Pace:
    return Pace(tat=tat, throttled_at=pace.throttled_at, throttled_rate=pace.throttled_rate)


def throttled(
    configured: float | None,
    pace: Pace,
    now: float,
    observed_rate: float,
    retry_after: float | None,
) -> Pace:
    """The pace after a 429: half the rate in force (or of what was observed), held
    until ``retry_after`` seconds from now."""
    hold_until = max(pace.tat, now + (retry_after or 0.0))
    if pace.throttled_at is not None and now - pace.throttled_at < 1.0:
        # Halve once a second at most: the answers to requests already in flight when
        # the first 429 came are the same news, not more of it.
        return Pace(
            tat=hold_until, throttled_at=pace.throttled_at, throttled_rate=pace.throttled_rate
        )
    current = effective_rate(configured, pace, now)
    base = current if current is not None else observed_rate
    return Pace(tat=hold_until, throttled_at=now, throttled_rate=max(MIN_RATE, base / 2))
