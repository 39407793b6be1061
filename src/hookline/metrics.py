"""Prometheus metrics: what hookline counts, and the queue as the database sees it.

Counters and the latency histogram live in one registry per process, fed where
things happen (the publish route, the gateway, the worker); the queue's depth
and age are read from the database at each scrape, so they are the same in
every process and need no worker to be reachable. Several API processes on one
port (``hookline.processes``) share their values through prometheus_client's
multiprocess mode, so a scrape answered by any of them counts all of them. No
label carries an endpoint, application or source id: with thousands of them,
the series count stays a few dozen. Attempts are labelled by destination kind (``http``,
``handler``, or a destination's type: a fixed, short list).
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

#: How a gauge shared by several processes reports: the value last set, by any of them
#: (each is read from the database at a scrape, by whichever process answers it).
_LATEST: Final = "mostrecent"
#: Bounds of the attempt latency histogram, in seconds (the default timeout is 15 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


class Metrics:
    """Every series hookline exports, on its own registry."""

    def __init__(self) -> None:
        #: Set (by ``hookline.processes``) when values are shared between processes.
        self.shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.published = Counter(
            "hookline_messages_published", "Messages stored, by origin (api or inbound).",
            ["origin"], registry=registry,
        )  # fmt: skip
        self.attempts = Counter(
            "hookline_attempts",
            "Delivery attempts, by what followed (succeeded, retry, failed), status class and "
            "destination kind (http, handler, rabbitMq, postgres, redis, nats, mqtt...).",
            ["outcome", "status_class", "kind"], registry=registry,
        )  # fmt: skip
        self.attempt_seconds = Histogram(
            "hookline_attempt_duration_seconds",
            "Duration of delivery attempts, by destination kind.",
            ["kind"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.endpoints_disabled_by_worker = Counter(
            "hookline_endpoints_disabled_by_worker",
            "Endpoints this process disabled after failing too long (or answering 410).",
            registry=registry,
        )  # fmt: skip
        self.inbound = Counter(
            "hookline_inbound_requests",
            "Provider requests at /in/ by result: stored, duplicate, rejected, forbidden, limited.",
            ["result"], registry=registry,
        )  # fmt: skip
        self.queue = Gauge(
            "hookline_queue_deliveries",
            "Pending deliveries by state: due now, scheduled later, leased by a worker.",
            ["state"], registry=registry, multiprocess_mode=_LATEST,
        )  # fmt: skip
        self.oldest_due_age = Gauge(
            "hookline_queue_oldest_due_age_seconds",
            "How long the oldest due delivery has been waiting (0 if none).",
            registry=registry, multiprocess_mode=_LATEST,
        )  # fmt: skip
        self.endpoints_disabled = Gauge(
            "hookline_endpoints_disabled", "Endpoints currently disabled.",
            registry=registry, multiprocess_mode=_LATEST,
        )  # fmt: skip
        self.endpoints_paused = Gauge(
            "hookline_endpoints_paused", "Endpoints currently paused.",
            registry=registry, multiprocess_mode=_LATEST,
        )  # fmt: skip
        self.circuits = Gauge(
            "hookline_endpoint_circuits",
            "Endpoints whose circuit breaker is not closed, by state (open, half_open).",
            ["state"], registry=registry, multiprocess_mode=_LATEST,
        )  # fmt: skip
        self.parked = Gauge(
            "hookline_parked_deliveries",
            "Deliveries parked: waiting (endpoint paused or circuit open) or queued (FIFO).",
            ["state"], registry=registry, multiprocess_mode=_LATEST,
        )  # fmt: skip

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (every process's, when shared).

        Shared gauges report the value most recently set: they are read from the
        database at each scrape, by whichever process answers it.
        """
        if not self.shared_dir:
            return generate_latest(self.registry)
        shared = CollectorRegistry()
        MultiProcessCollector(shared, self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(shared)


def destination_kind(kind: str | None, url: str) -> str:
    """The ``kind`` label of an attempt: a destination's type, ``handler`` for a
    ``handler:`` endpoint, else ``http``."""
    if kind:
        return kind
    return "handler" if url.startswith("handler:") else "http"


def status_class(status_code: int) -> str:
    """``2xx``... for an HTTP status, ``none`` when no answer came."""
    return f"{status_code // 100}xx" if 100 <= status_code < 600 else "none"


#: The process's metrics: one registry shared by the API, the gateway and the workers.
METRICS = Metrics()
