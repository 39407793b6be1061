"""Per-endpoint delivery controls: what an endpoint asks of fan-out and of the worker.

Pure values. They are stored as one JSON document per endpoint (``Controls.to_json``)
and validated at the API's edge; the payload filter and the transformation are
documents of ``domain.filters`` and ``domain.transform``, compiled where they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSONObject = dict[str, Any]

#: Message priorities, in the order the claim takes them.
PRIORITIES = {"high": 0, "normal": 1, "low": 2}
PRIORITY_NAMES = {number: name for name, number in PRIORITIES.items()}
NORMAL_PRIORITY = PRIORITIES["normal"]


@dataclass(frozen=True, slots=True)
class Batching:
    """Send up to ``max_size`` events in one request, waiting at most ``max_wait`` seconds."""

    max_size: int
    max_wait: float


@dataclass(frozen=True, slots=True)
class Ordering:
    """FIFO delivery: one order per endpoint, or one per value of ``key`` in the payload."""

    key: str | None = None


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """When to open an endpoint's circuit, and how long to wait before probing it.

    The circuit opens when, within ``window`` seconds, at least ``minimum_attempts``
    attempts were made and at least ``failure_rate`` of them failed (no answer, 5xx
    or 429).
    A probe follows after ``cooldown`` seconds, doubling after each failed probe up
    to ``max_cooldown``.
    """

    failure_rate: float = 0.5
    minimum_attempts: int = 10
    window: float = 60.0
    cooldown: float = 30.0
    max_cooldown: float = 600.0


@dataclass(frozen=True, slots=True)
class Controls:
    """Everything an endpoint can ask beyond Svix's fields; the defaults ask nothing."""

    filter: JSONObject | None = None
    transformation: JSONObject | None = None
    batching: Batching | None = None
    ordering: Ordering | None = None
    breaker: BreakerConfig | None = None
    max_in_flight: int | None = None

    def to_json(self) -> JSONObject:
        """The stored form: only what is set."""
        stored: JSONObject = {}
        if self.filter is not None:
            stored["filter"] = self.filter
        if self.transformation is not None:
            stored["transformation"] = self.transformation
        if self.batching is not None:
            stored["batching"] = {
                "max_size": self.batching.max_size,
                "max_wait": self.batching.max_wait,
            }
        if self.ordering is not None:
            stored["ordering"] = {"key": self.ordering.key}
        if self.breaker is not None:
            b = self.breaker
            stored["breaker"] = {
                "failure_rate": b.failure_rate, "minimum_attempts": b.minimum_attempts,
                "window": b.window, "cooldown": b.cooldown, "max_cooldown": b.max_cooldown,
            }  # fmt: skip
        if self.max_in_flight is not None:
            stored["max_in_flight"] = self.max_in_flight
        return stored

    @classmethod
    def from_json(cls, stored: JSONObject | None) -> Controls:
        """Read the stored form back."""
        if not stored:
            return NO_CONTROLS
        batching = stored.get("batching")
        ordering = stored.get("ordering")
        breaker = stored.get("breaker")
        return cls(
            filter=stored.get("filter"),
            transformation=stored.get("transformation"),
            batching=None if batching is None else Batching(**batching),
            ordering=None if ordering is None else Ordering(**ordering),
            breaker=None if breaker is None else BreakerConfig(**breaker),
            max_in_flight=stored.get("max_in_flight"),
        )


NO_CONTROLS = Controls()


def lookup(value: object, path: str) -> object | None:
    """The value at a dotted ``path`` of a JSON value (numeric parts index lists), or None."""
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def ordering_key(ordering: Ordering, payload: object) -> str:
    """The FIFO key of one event: '' (one order per endpoint) or the key's value as text.

    Events missing the key share the '' order, so they are still delivered in order.
    """
    if ordering.key is None:
        return ""
    value = lookup(payload, ordering.key)
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)
