"""``python -m bench``: outbound delivery, as ratios against a ceiling from the same run.

Steps, all on 127.0.0.1 and all bounded in count and time:

1. start the fast receiver (its own process);
2. publish the backlog once through ``hookline api`` (no worker running);
3. ``rounds`` times, interleaved so that noise from the shared machine hits all
   of them alike: the ceiling (bare aiohttp loop, its own process), then a
   ``hookline worker`` on a copy of the backlog with WARNING logs, then one
   with INFO logs (the default);
4. latency: ``hookline serve`` at each fixed offered rate;
5. print the table and save it, with the raw numbers, to ``bench/results/``.

The best run of each kind is compared: interference from other work on the
machine only ever slows a run down, so the best is the least disturbed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hookline.settings import Settings, load_settings

from bench.ceiling import CeilingResult, measure_ceiling
from bench.common import PAYLOAD_BYTES, loop_name
from bench.delivery import (
    BenchError,
    LatencyResult,
    ThroughputResult,
    measure_hookline,
    measure_latency,
    publish_backlog,
)
from bench.inbound import InboundResult
from bench.inbound import measure_ceiling as measure_inbound_ceiling
from bench.inbound import measure_hookline as measure_inbound
from bench.processes import stop_all
from bench.receiver import Receiver
from bench.report import RESULTS_DIR, Row, machine, save, table

GOAL = 0.8
INBOUND_GOAL = 0.5
INBOUND_CONCURRENCY = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--quick`` changes the defaults of the sizes."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Outbound delivery benchmark for hookline."
    )
    parser.add_argument("--quick", action="store_true", help="a smoke check: N=3000, one round")
    parser.add_argument("-n", "--count", type=int, help="deliveries per run (default 20000)")
    parser.add_argument("--rounds", type=int, help="ceiling/hookline runs of each kind (default 3)")
    parser.add_argument(
        "--endpoints",
        type=int,
        help="endpoints sharing the backlog (default: worker / endpoint concurrency, so 512/16=32)",
    )
    parser.add_argument(
        "--rates",
        default="200,1000",
        help="offered loads for the latency figure, messages/s (default 200,1000)",
    )
    parser.add_argument("--latency-seconds", type=float, help="seconds per offered load (def. 5)")
    parser.add_argument("--skip-info", action="store_true", help="no run with INFO logging")
    parser.add_argument("--skip-latency", action="store_true", help="no latency figure")
    parser.add_argument("--skip-inbound", action="store_true", help="no inbound figure")
    parser.add_argument(
        "--inbound-count", type=int, help="requests per inbound run (default 5000; quick 2000)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one extra WARNING run under py-spy (pip install py-spy); flame graph in results",
    )
    parser.add_argument("--timeout", type=float, help="seconds any one run may take (default 300)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="directory for the JSON file"
    )
    args = parser.parse_args(argv)
    args.count = args.count or (3000 if args.quick else 20000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.latency_seconds = args.latency_seconds or (2.0 if args.quick else 5.0)
    args.timeout = args.timeout or (120.0 if args.quick else 300.0)
    args.rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    args.inbound_count = args.inbound_count or (2000 if args.quick else 5000)
    if not 1 <= args.inbound_count <= 100_000:
        parser.error("inbound count is bounded at 1..100,000")
    if args.count < 1 or args.rounds < 1 or not args.rates or min(args.rates) <= 0:
        parser.error("count, rounds and rates must be positive")
    if args.count > 1_000_000:
        parser.error("count is bounded at 1,000,000")
    if max(args.rates) * args.latency_seconds > 100_000:
        parser.error("rate x latency seconds is bounded at 100,000 messages")
    return args


def _best(results: list[Any]) -> Any:
    return max(results, key=lambda result: result.per_second)


def _num(value: float) -> str:
    return f"{value:,.0f}"


def _rows(
    settings: Settings,
    endpoints: int,
    ceilings: list[CeilingResult],
    runs: dict[str, list[ThroughputResult]],
    latencies: list[LatencyResult],
    publish_per_second: float,
    inbound: dict[str, list[InboundResult]],
) -> list[Row]:
    ceiling = _best(ceilings)
    rows = [
        Row(
            f"ceiling: bare aiohttp, {settings.worker_concurrency} in flight, no storage, req/s",
            _num(ceiling.per_second),
            data={"best": asdict(ceiling), "runs": [asdict(c) for c in ceilings]},
        )
    ]
    labels = {"WARNING": "WARNING logs", "INFO": "INFO logs (default)"}
    for level, results in runs.items():
        best = _best(results)
        rows.append(
            Row(
                f"hookline worker, durable deliveries/s, {labels[level]}",
                _num(best.per_second),
                _num(ceiling.per_second),
                f"{best.per_second / ceiling.per_second:.2f}",
                f">= {GOAL:.2f}",
                data={
                    "best": asdict(best) | {"per_second": best.per_second},
                    "runs": [asdict(r) | {"per_second": r.per_second} for r in results],
                    "ratio": best.per_second / ceiling.per_second,
                },
            )
        )
    cheapest_ceiling = min(c.cpu_us_per_request() for c in ceilings)
    for level, results in runs.items():
        if not any(r.cpu_seconds for r in results):
            continue  # not on Linux: no per-thread CPU figures
        cheapest = min(results, key=lambda r: r.cpu_us_per_delivery())
        rows.append(
            Row(
                f"CPU us per delivery, worker, all threads, {labels[level]}",
                _num(cheapest.cpu_us_per_delivery()),
                _num(cheapest_ceiling),
                f"{cheapest_ceiling / cheapest.cpu_us_per_delivery():.2f}",
                data={"cpu_seconds_by_thread": cheapest.cpu_seconds},
            )
        )
    for latency in latencies:
        rows.append(
            Row(
                f"publish->receipt, serve, {latency.rate:,.0f}/s offered "
                f"(API acked {latency.acked_rate:,.0f}/s)",
                f"p50 {latency.p50_ms:,.1f} ms, p99 {latency.p99_ms:,.1f} ms",
                data=asdict(latency),
            )
        )
    if inbound["ceiling"]:
        floor, gateway = _best(inbound["ceiling"]), _best(inbound["hookline"])
        rows.append(
            Row(
                f"ceiling: minimal ASGI app (reads body), {INBOUND_CONCURRENCY} in flight, req/s",
                _num(floor.per_second),
                data={"runs": [asdict(r) for r in inbound["ceiling"]]},
            )
        )
        rows.append(
            Row(
                "inbound: verified + deduplicated + stored + acked, req/s",
                _num(gateway.per_second),
                _num(floor.per_second),
                f"{gateway.per_second / floor.per_second:.2f}",
                f">= {INBOUND_GOAL:.2f}",
                data={"runs": [asdict(r) for r in inbound["hookline"]]},
            )
        )
    rows.append(
        Row(
            "set-up only: API publish rate, 64 in flight, msgs/s",
            _num(publish_per_second),
        )
    )
    return rows


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """Do every measurement; return the table's rows and the document to save."""
    settings = load_settings({"log_level": "WARNING"})
    endpoints = args.endpoints or max(
        1, -(-settings.worker_concurrency // settings.endpoint_concurrency)
    )
    # Children inherit HOOKLINE_* from this environment. The SSRF defence stays on (its
    # checks are part of the measured path); only the loopback receiver is let through.
    env = {"HOOKLINE_ALLOWED_NETWORKS": os.environ.get("HOOKLINE_ALLOWED_NETWORKS", "127.0.0.0/8")}
    levels = ["WARNING"] if args.skip_info else ["WARNING", "INFO"]
    ceilings: list[CeilingResult] = []
    runs: dict[str, list[ThroughputResult]] = {level: [] for level in levels}
    latencies: list[LatencyResult] = []
    started = time.monotonic()
    profile_path: Path | None = None
    with tempfile.TemporaryDirectory(prefix="hookline-bench-") as tmp, Receiver() as receiver:
        workdir = Path(tmp)
        # Every process of the run shares one key file, made by the first, beside the databases.
        env["HOOKLINE_SECRET_KEY_FILE"] = str(workdir / "hookline.key")
        _say(f"publishing the backlog: {args.count:,} messages to {endpoints} endpoints")
        backlog = publish_backlog(receiver, args.count, endpoints, workdir, env)
        for round_number in range(1, args.rounds + 1):
            receiver.reset()
            ceiling = measure_ceiling(
                receiver.url, args.count, settings.worker_concurrency, endpoints, args.timeout
            )
            ceiling = replace(ceiling, connections=receiver.connections())
            ceilings.append(ceiling)
            _say(f"round {round_number}: ceiling {_num(ceiling.per_second)} req/s")
            for level in levels:
                result = measure_hookline(receiver, backlog, level, workdir, args.timeout, env)
                runs[level].append(result)
                _say(f"round {round_number}: hookline {level} {_num(result.per_second)}/s")
        if args.profile:
            args.results.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            profile_path = args.results / f"profile-worker-{stamp}.svg"
            measure_hookline(
                receiver, backlog, "WARNING", workdir, args.timeout, env, profile=profile_path
            )
            _say(f"profile written to {profile_path}")
        if not args.skip_latency:
            latencies = measure_latency(
                args.rates, args.latency_seconds, endpoints, workdir, args.timeout, env=env
            )
        inbound: dict[str, list[InboundResult]] = {"ceiling": [], "hookline": []}
        for round_number in range(0 if args.skip_inbound else args.rounds):
            n, lanes = args.inbound_count, INBOUND_CONCURRENCY
            inbound["ceiling"].append(measure_inbound_ceiling(n, lanes, workdir))
            inbound["hookline"].append(measure_inbound(n, lanes, workdir, env))
            _say(
                f"inbound round {round_number + 1}: ceiling "
                f"{_num(inbound['ceiling'][-1].per_second)}/s, hookline "
                f"{_num(inbound['hookline'][-1].per_second)}/s"
            )
    rows = _rows(
        settings, endpoints, ceilings, runs, latencies, backlog.publish_per_second, inbound
    )
    return rows, {
        "benchmark": "outbound delivery",
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - started, 1),
        "machine": machine() | {"event_loop": loop_name()},
        "parameters": {
            "count": args.count,
            "rounds": args.rounds,
            "endpoints": endpoints,
            "payload_bytes": PAYLOAD_BYTES,
            "rates": args.rates,
            "inbound_count": args.inbound_count,
            "latency_seconds": args.latency_seconds,
            "worker_concurrency": settings.worker_concurrency,
            "endpoint_concurrency": settings.endpoint_concurrency,
            "claim_batch": settings.claim_batch,
            "sqlite_synchronous": settings.sqlite_synchronous,
            "hookline_env": env,
            "how": "best run of each kind; ratio = best hookline / best ceiling",
        },
        "profile": str(profile_path) if profile_path else None,
        "rows": [asdict(row) for row in rows],
    }


def _say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _notes(document: dict[str, Any]) -> str:
    info, params = document["machine"], document["parameters"]
    endpoints, cap = params["endpoints"], params["endpoint_concurrency"]
    in_flight = min(params["worker_concurrency"], endpoints * cap)
    return "\n".join(
        [
            f"Machine: {info['cpus']} CPUs ({info['cpu_model']}), load "
            f"{info['load_average_at_start']} at start; Python {info['python']}, aiohttp "
            f"{info['packages']['aiohttp']}, {info['event_loop']} (hookline and ceiling alike).",
            f"Runs: N={params['count']:,} signed {params['payload_bytes']} B JSON POSTs; "
            f"throughput is the best of {params['rounds']} interleaved round(s); "
            f"{endpoints} endpoints x {cap} = {in_flight} in flight; "
            f"SQLite synchronous={params['sqlite_synchronous']}; latency at each rate for "
            f"{params['latency_seconds']:g} s.",
            "CPU rows: ratio = the ceiling sender's CPU per request / the worker process's CPU "
            "per delivery (lowest run of each).",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run, print the table, save the JSON; children never outlive it."""
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, through every finally block that stops a child.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if not Path("src/hookline").is_dir():
        print("run this from the repository root: python -m bench", file=sys.stderr)
    try:
        rows, document = run(args)
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    finally:
        stop_all()
    document["notes"] = _notes(document)
    print(table(rows))
    print()
    print(document["notes"])
    path = save(document, args.results)
    print(f"saved {os.path.relpath(path)}")
