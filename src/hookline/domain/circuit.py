"""An endpoint's circuit breaker, as a pure state machine.

closed -> open: within the failure window, enough attempts failed. The endpoint's
    queued deliveries are parked (they keep their retries) instead of being sent.
open -> half_open: after the cool-down, one parked delivery is sent as a probe.
half_open -> closed: the probe succeeded; parked deliveries go out again.
half_open -> open: the probe failed; the next cool-down is twice as long.

Only the outcome of the probe moves a half-open circuit, and outcomes arriving
while the circuit is open (requests that were already in flight) move nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from hookline.domain.controls import BreakerConfig


class CircuitState(enum.StrEnum):
    """Where an endpoint's circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Circuit:
    """The stored circuit of one endpoint."""

    state: CircuitState = CircuitState.CLOSED
    since: float | None = None
    probe_at: float | None = None
    probe_id: str | None = None
    cooldown: float | None = None
    window_start: float = 0.0
    window_total: int = 0
    window_failed: int = 0

    def lets_through(self, delivery_id: str) -> bool:
        """Whether a delivery may be sent now: any when closed, only the probe when half open."""
        if self.state is CircuitState.CLOSED:
            return True
        return self.state is CircuitState.HALF_OPEN and delivery_id == self.probe_id


CLOSED = Circuit()


def observe(
    circuit: Circuit,
    config: BreakerConfig,
    now: float,
    succeeded: int,
    failed: int,
    probe_succeeded: bool | None = None,
) -> Circuit:
    """The circuit after a batch of outcomes of one endpoint.

    ``probe_succeeded`` is the probe's outcome if the batch holds it (else None).
    """
    if circuit.state is CircuitState.HALF_OPEN:
        if probe_succeeded is None:
            return circuit
        if probe_succeeded:
            return Circuit(window_start=now)
        cooldown = min((circuit.cooldown or config.cooldown) * 2, config.max_cooldown)
        return _opened(circuit, now, cooldown)
    if circuit.state is CircuitState.OPEN:
        return circuit
    if now - circuit.window_start >= config.window:
        circuit = Circuit(window_start=now)
    total = circuit.window_total + succeeded + failed
    failures = circuit.window_failed + failed
    counted = replace(circuit, window_total=total, window_failed=failures)
    if total >= config.minimum_attempts and failures >= config.failure_rate * total:
        return _opened(counted, now, config.cooldown)
    return counted


def _opened(circuit: Circuit, now: float, cooldown: float) -> Circuit:
    return replace(
        circuit, state=CircuitState.OPEN, since=now, probe_at=now + cooldown, probe_id=None,
        cooldown=cooldown,
    )  # fmt: skip


def probe(circuit: Circuit, delivery_id: str) -> Circuit:
    """Half-open the circuit, letting ``delivery_id`` through as the probe."""
    return replace(circuit, state=CircuitState.HALF_OPEN, probe_id=delivery_id)


def counts_as_failure(status_code: int, error_class: str | None) -> bool:
    """What trips a breaker: no answer at all, a 5xx or a 429 (not the event's own 4xx)."""
    if error_class is not None and status_code == 0:
        return True
    return status_code >= 500 or status_code == 429
