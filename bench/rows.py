"""The table: every measurement of a run turned into rows, each a ratio to its ceiling.

:class:`Measurements` holds what :func:`bench.cli.run` measured, every run of every
kind; :func:`rows` makes the table. The best run of each kind is compared (on a
shared machine interference only ever slows a run down, so the best is the least
disturbed); CPU rows compare the cheapest run of each kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from hookline.settings import Settings

from bench.ceiling import CeilingResult
from bench.client import RequestRate
from bench.common import CONTROLS
from bench.delivery import Backlog, LatencyResult, ThroughputResult
from bench.fan_out import FanOutResult
from bench.report import Row

#: Goals, as ratios to the ceiling of each figure (the issue "Proof of speed").
GOAL = 0.8
INBOUND_GOAL = 0.5
PUBLISH_GOAL = 0.6
POSTGRES_GOAL = 1.5
BACKLOG_GOAL = 0.8
NOISY_GOAL = 0.9
#: Requests in flight for the request-rate figures (inbound, publish).
CONCURRENCY = 64
#: What each delivery-controls backlog's endpoints carry, as the table says it.
CONTROL_LABELS = {
    "filter": "payload filter",
    "transformation": "transformation",
    "both": "payload filter + transformation",
}
_LEVELS = {"WARNING": "WARNING logs", "INFO": "INFO logs (default)"}


class _Rated(Protocol):
    @property
    def per_second(self) -> float: ...


R = TypeVar("R", bound=_Rated)


def best(results: Sequence[R]) -> R:
    """The fastest run."""
    return max(results, key=lambda result: result.per_second)


def num(value: float) -> str:
    """A whole number with thousands separators."""
    return f"{value:,.0f}"


def _runs(results: Sequence[Any]) -> list[dict[str, Any]]:
    return [asdict(r) | {"per_second": r.per_second} for r in results]


@dataclass
class Measurements:
    """Every run of one ``python -m bench``, by kind (empty lists: not measured)."""

    ceilings: list[CeilingResult] = field(default_factory=list)
    #: The plain backlog's runs by log level (``WARNING``, ``INFO``).
    runs: dict[str, list[ThroughputResult]] = field(default_factory=dict)
    #: The delivery-controls backlogs' runs by control name.
    controls: dict[str, list[ThroughputResult]] = field(default_factory=dict)
    #: Every published backlog by name (``none`` is the plain one): the set-up figures.
    backlogs: dict[str, Backlog] = field(default_factory=dict)
    latencies: list[LatencyResult] = field(default_factory=list)
    inbound: dict[str, list[RequestRate]] = field(default_factory=dict)
    publish: dict[str, list[RequestRate]] = field(default_factory=dict)
    #: Processes of the inbound and publish figures' servers (both sides alike).
    api_processes: int = 1
    #: PostgreSQL runs by number of workers.
    postgres: dict[int, list[ThroughputResult]] = field(default_factory=dict)
    #: Backlog drains: ``small`` (the published backlog) and ``large``.
    drains: dict[str, list[ThroughputResult]] = field(default_factory=dict)
    fan_out_ceilings: list[CeilingResult] = field(default_factory=list)
    fan_outs: list[FanOutResult] = field(default_factory=list)
    noisy: list[ThroughputResult] = field(default_factory=list)
    #: Runs that failed for a reason outside hookline and were run again, and why.
    disturbed: list[str] = field(default_factory=list)


def rows(m: Measurements, settings: Settings, large_backlog: int) -> list[Row]:
    """The whole table, in the order the figures are explained in docs/performance.md."""
    return [
        *_outbound_rows(m, settings),
        *_control_rows(m),
        *_postgres_rows(m),
        *_backlog_rows(m, large_backlog),
        *_fan_out_rows(m),
        *_noisy_rows(m),
        *_latency_rows(m),
        *_request_rate_rows(m),
    ]


def _outbound_rows(m: Measurements, settings: Settings) -> list[Row]:
    ceiling = best(m.ceilings)
    table = [
        Row(
            f"ceiling: bare aiohttp, {settings.worker_concurrency} in flight, no storage, req/s",
            num(ceiling.per_second),
            data={"best": asdict(ceiling), "runs": [asdict(c) for c in m.ceilings]},
        )
    ]
    for level, results in m.runs.items():
        top = best(results)
        table.append(
            Row(
                f"hookline worker, durable deliveries/s, {_LEVELS[level]}",
                num(top.per_second),
                num(ceiling.per_second),
                f"{top.per_second / ceiling.per_second:.2f}",
                f">= {GOAL:.2f}",
                data={
                    "best": asdict(top) | {"per_second": top.per_second},
                    "runs": _runs(results),
                    "ratio": top.per_second / ceiling.per_second,
                },
            )
        )
    cheapest_ceiling = min(c.cpu_us_per_request() for c in m.ceilings)
    for level, results in m.runs.items():
        if not any(r.cpu_seconds for r in results):
            continue  # not on Linux: no per-thread CPU figures
        cheapest = min(results, key=lambda r: r.cpu_us_per_delivery())
        table.append(
            Row(
                f"CPU us per delivery, worker, all threads, {_LEVELS[level]}",
                num(cheapest.cpu_us_per_delivery()),
                num(cheapest_ceiling),
                f"{cheapest_ceiling / cheapest.cpu_us_per_delivery():.2f}",
                data={"cpu_seconds_by_thread": cheapest.cpu_seconds},
            )
        )
    return table


def _control_rows(m: Measurements) -> list[Row]:
    """Each delivery control as deliveries/s and as a ratio to the same worker without it.

    Transformations run in the worker, at each delivery; payload filters run when a
    message is published (fan-out decides which endpoints get a delivery), so their
    cost shows in the API's CPU per publish, measured once per backlog while setting up.
    """
    if not m.controls:
        return []
    table = []
    baseline = m.runs["WARNING"]
    plain = best(baseline)
    cheapest_plain = min(r.cpu_us_per_delivery() for r in baseline)
    for name, results in m.controls.items():
        top = best(results)
        table.append(
            Row(
                f"controls: {CONTROL_LABELS[name]} on every endpoint, deliveries/s, "
                "WARNING logs (vs. none)",
                num(top.per_second),
                num(plain.per_second),
                f"{top.per_second / plain.per_second:.2f}",
                data={
                    "endpoint_fields": CONTROLS[name],
                    "best": asdict(top) | {"per_second": top.per_second},
                    "runs": _runs(results),
                    "ratio": top.per_second / plain.per_second,
                    # Each run against the baseline (WARNING) run of the same round.
                    "round_ratios": [
                        r.per_second / b.per_second for r, b in zip(results, baseline, strict=True)
                    ],
                    "cpu_us_per_delivery": min(r.cpu_us_per_delivery() for r in results),
                    "baseline_cpu_us_per_delivery": cheapest_plain,
                },
            )
        )
    for name, results in m.controls.items():
        if not any(r.cpu_seconds for r in results):
            continue  # not on Linux: no per-thread CPU figures
        cheapest = min(r.cpu_us_per_delivery() for r in results)
        table.append(
            Row(
                f"controls: CPU us per delivery, worker, all threads, {CONTROL_LABELS[name]} "
                "(vs. none)",
                num(cheapest),
                num(cheapest_plain),
                f"{cheapest_plain / cheapest:.2f}",
            )
        )
    plain_publish = m.backlogs["none"]
    for name, backlog in m.backlogs.items():
        if name not in CONTROL_LABELS or not (
            backlog.publish_cpu_us and plain_publish.publish_cpu_us
        ):
            continue
        table.append(
            Row(
                f"controls: CPU us per publish, API process, {CONTROL_LABELS[name]} on every "
                "endpoint (vs. none; set-up, 1 run)",
                num(backlog.publish_cpu_us),
                num(plain_publish.publish_cpu_us),
                f"{plain_publish.publish_cpu_us / backlog.publish_cpu_us:.2f}",
                data={
                    "publish_per_second": backlog.publish_per_second,
                    "baseline_publish_per_second": plain_publish.publish_per_second,
                },
            )
        )
    return table


def _postgres_rows(m: Measurements) -> list[Row]:
    """Durable deliveries/s of one and of two workers on one PostgreSQL database, against
    the one bare aiohttp process; then where the CPU went (the machine's CPUs are shared
    by the workers, PostgreSQL and the receiver)."""
    if not m.postgres:
        return []
    ceiling = best(m.ceilings)
    cheapest_ceiling = min(c.cpu_us_per_request() for c in m.ceilings)
    table = []
    for workers, results in m.postgres.items():
        top = best(results)
        plural = "worker" if workers == 1 else "workers"
        table.append(
            Row(
                f"PostgreSQL: {workers} hookline {plural} (processes), durable deliveries/s",
                num(top.per_second),
                num(ceiling.per_second),
                f"{top.per_second / ceiling.per_second:.2f}",
                f">= {POSTGRES_GOAL:.2f}" if workers == 2 else "—",
                data={"best": asdict(top) | {"per_second": top.per_second}, "runs": _runs(results)},
            )
        )
    for workers, results in m.postgres.items():
        plural = "worker" if workers == 1 else "workers"
        cheapest = min(results, key=lambda r: r.cpu_us_per_delivery())
        per = 1e6 / cheapest.deliveries
        table.append(
            Row(
                f"PostgreSQL, {workers} {plural}: CPU us per delivery, workers + PostgreSQL + "
                "receiver; machine busy",
                f"{num(cheapest.cpu_us_per_delivery())} + "
                f"{num(cheapest.server_cpu_seconds * per)} + "
                f"{num(cheapest.receiver_cpu_seconds * per)}; "
                f"{cheapest.machine_busy:.0%}",
                num(cheapest_ceiling),
                f"{cheapest_ceiling / cheapest.cpu_us_per_delivery():.2f}",
                data={
                    "cpu_seconds_by_thread": cheapest.cpu_seconds,
                    "server_cpu_seconds": cheapest.server_cpu_seconds,
                    "receiver_cpu_seconds": cheapest.receiver_cpu_seconds,
                    "machine_busy": [r.machine_busy for r in results],
                },
            )
        )
    return table


def _backlog_rows(m: Measurements, large: int) -> list[Row]:
    """The first N deliveries drained with a large backlog behind them, against the same
    N drained from a backlog of N; and the worker's peak memory in each."""
    if not m.drains:
        return []
    small, grown = best(m.drains["small"]), best(m.drains["large"])
    first = small.deliveries
    return [
        Row(
            f"backlog: first {num(first)} deliveries/s, {num(first)} due (SQLite)",
            num(small.per_second),
            data={"best": asdict(small), "runs": _runs(m.drains["small"])},
        ),
        Row(
            f"backlog: first {num(first)} deliveries/s, {num(large)} due (vs. {num(first)} due)",
            num(grown.per_second),
            num(small.per_second),
            f"{grown.per_second / small.per_second:.2f}",
            f">= {BACKLOG_GOAL:.2f}",
            data={"best": asdict(grown), "runs": _runs(m.drains["large"])},
        ),
        Row(
            f"backlog: worker peak RSS (VmHWM), {num(first)} due / {num(large)} due, MiB",
            f"{max(r.peak_rss_kib for r in m.drains['small']) / 1024:,.0f} / "
            f"{max(r.peak_rss_kib for r in m.drains['large']) / 1024:,.0f}",
        ),
    ]


def _fan_out_rows(m: Measurements) -> list[Row]:
    if not m.fan_outs:
        return []
    ceiling, top = best(m.fan_out_ceilings), best(m.fan_outs)
    endpoints = top.endpoints
    return [
        Row(
            f"ceiling: bare aiohttp, {num(endpoints)} requests to {num(endpoints)} paths, req/s",
            num(ceiling.per_second),
            data={"runs": [asdict(c) for c in m.fan_out_ceilings]},
        ),
        Row(
            f"fan-out: 1 event to {num(endpoints)} endpoints (`serve`), deliveries received/s "
            "from the publish request",
            num(top.per_second),
            num(ceiling.per_second),
            f"{top.per_second / ceiling.per_second:.2f}",
            data={"best": asdict(top), "runs": _runs(m.fan_outs)},
        ),
        Row(
            "fan-out: publish answered / all received / all recorded, after (best run)",
            f"{top.publish_seconds:.2f} / {top.received_seconds:.2f} / "
            f"{top.recorded_seconds:.2f} s",
        ),
    ]


def _noisy_rows(m: Measurements) -> list[Row]:
    if not m.noisy:
        return []
    top, plain = best(m.noisy), best(m.runs["WARNING"])
    healthy = plain.endpoints
    hanging = top.endpoints - healthy
    return [
        Row(
            f"noisy neighbours: healthy deliveries/s, {hanging} of {top.endpoints} endpoints "
            f"hang to the timeout (vs. the {healthy} healthy alone)",
            num(top.per_second),
            num(plain.per_second),
            f"{top.per_second / plain.per_second:.2f}",
            f">= {NOISY_GOAL:.2f}",
            data={
                "best": asdict(top) | {"per_second": top.per_second},
                "runs": _runs(m.noisy),
                "round_ratios": [
                    r.per_second / b.per_second
                    for r, b in zip(m.noisy, m.runs["WARNING"], strict=True)
                ],
            },
        )
    ]


def _latency_rows(m: Measurements) -> list[Row]:
    return [
        Row(
            f"publish->receipt, serve, {latency.rate:,.0f}/s offered "
            f"(API acked {latency.acked_rate:,.0f}/s)",
            f"p50 {latency.p50_ms:,.1f} ms, p99 {latency.p99_ms:,.1f} ms",
            data=asdict(latency),
        )
        for latency in m.latencies
    ]


def _request_rate_rows(m: Measurements) -> list[Row]:
    """Requests answered per second by ``hookline api`` against the minimal ASGI app."""
    table = []
    figures = {
        "inbound": ("inbound: verified + deduplicated + stored + acked, req/s", INBOUND_GOAL),
        "publish": (
            "publish API: POST .../msg (1 KiB JSON, no idempotency key), stored, req/s",
            PUBLISH_GOAL,
        ),
    }
    processes = f", {m.api_processes} processes" if m.api_processes > 1 else ""
    for name, (label, goal) in figures.items():
        measured = getattr(m, name)
        if not measured.get("ceiling"):
            continue
        floor, server = best(measured["ceiling"]), best(measured["hookline"])
        table += [
            Row(
                f"ceiling ({name}): minimal ASGI app (reads body){processes}, "
                f"{CONCURRENCY} in flight, req/s",
                num(floor.per_second),
                data={"runs": _runs(measured["ceiling"])},
            ),
            Row(
                label + processes,
                num(server.per_second),
                num(floor.per_second),
                f"{server.per_second / floor.per_second:.2f}",
                f">= {goal:.2f}",
                data={"runs": _runs(measured["hookline"])},
            ),
        ]
    if m.publish.get("hookline"):
        cheapest = min(r.cpu_us for r in m.publish["hookline"])
        table.append(
            Row(
                f"publish API: CPU us per publish, API process{processes}, all threads",
                num(cheapest),
            )
        )
    if "none" in m.backlogs:
        table.append(
            Row(
                "set-up only: API publish rate (JSON encoded per request), 64 in flight, msgs/s",
                num(m.backlogs["none"].publish_per_second),
            )
        )
    return table
