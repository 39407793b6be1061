"""``python -m bench``: hookline's figures, each a ratio to a ceiling measured in the same run.

Steps, all on 127.0.0.1 and all bounded in count and time:

1. start the fast receiver (its own process);
2. set up (nothing timed here is judged): publish the backlog once through
   ``hookline api`` (no worker running), and the others the chosen figures need
   (delivery controls, noisy neighbours, PostgreSQL); grow a copy of the first to
   the large backlog with SQL; create the fan-out endpoints;
3. ``rounds`` times, interleaved so that noise from the shared machine hits all
   of them alike: the ceiling (bare aiohttp loop, its own process), then a
   ``hookline worker`` on a copy of the backlog with WARNING logs, then one with
   INFO logs (the default), then the noisy-neighbour backlog, then each
   delivery-controls backlog, then one and two workers on PostgreSQL, then the
   first N deliveries of the backlog alone and with the large backlog behind
   them, then the fan-out ceiling and one event fanned out;
4. latency: ``hookline serve`` at each fixed offered rate;
5. request rates, ``rounds`` times each: the minimal ASGI app, then ``hookline
   api``, for inbound webhooks and for publishes;
6. print the table and save it, with the raw numbers, to ``bench/results/``.

Each figure is explained in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hookline.settings import load_settings

from bench import end_to_end, inbound, publish
from bench.against import Comparison, add_against_argument, against_env
from bench.ceiling import measure_ceiling
from bench.common import CONTROLS, PAYLOAD_BYTES, BenchError, loop_name
from bench.databases import POSTGRES_URL, PostgresDatabases
from bench.delivery import (
    Backlog,
    ThroughputResult,
    measure_hookline,
    measure_latency,
    publish_backlog,
)
from bench.fan_out import FanOut, measure_fan_out, prepare_fan_out
from bench.grow import grow_backlog
from bench.processes import stop_all
from bench.receiver import Receiver
from bench.report import RESULTS_DIR, Row, machine, save, table
from bench.rows import CONCURRENCY, CONTROL_LABELS, Measurements, num, rows

#: Worker processes of the PostgreSQL figure.
POSTGRES_WORKERS = (1, 2)
#: Messages published through the API on PostgreSQL; the rest of the backlog is grown
#: with SQL (bench.grow), so that a restart of a shared server is less likely to land in it.
POSTGRES_SEED = 256
#: Tries of each PostgreSQL step: on a shared machine someone may restart the server.
POSTGRES_TRIES = 3
T = TypeVar("T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--quick`` changes the defaults of the sizes."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="hookline's benchmarks, as ratios to ceilings."
    )
    parser.add_argument("--quick", action="store_true", help="a smoke check: small sizes, 1 round")
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
        "--skip-controls",
        action="store_true",
        help="no delivery-controls figure (payload filters, transformations)",
    )
    parser.add_argument("--skip-publish", action="store_true", help="no publish API figure")
    parser.add_argument("--skip-postgres", action="store_true", help="no PostgreSQL figure")
    parser.add_argument("--skip-backlog", action="store_true", help="no large-backlog figure")
    parser.add_argument("--skip-fan-out", action="store_true", help="no fan-out figure")
    parser.add_argument("--skip-noisy", action="store_true", help="no noisy-neighbours figure")
    parser.add_argument(
        "--inbound-count", type=int, help="requests per inbound run (default 5000; quick 2000)"
    )
    parser.add_argument(
        "--publish-count", type=int, help="requests per publish API run (default 5000; quick 2000)"
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="API processes for the inbound and publish figures, hookline's and the minimal "
        "ASGI app's alike (default 1)",
    )
    parser.add_argument(
        "--backlog-size",
        type=int,
        help="due deliveries in the large backlog (default 1000000; quick 100000)",
    )
    parser.add_argument(
        "--fan-out-endpoints",
        type=int,
        help="endpoints one event fans out to (default 10000; quick 1000)",
    )
    parser.add_argument(
        "--noisy-timeout",
        type=float,
        default=2.0,
        help="HOOKLINE_REQUEST_TIMEOUT of the noisy-neighbours run, seconds (default 2)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", POSTGRES_URL),
        help="a PostgreSQL database to connect to for creating and dropping the bench's own "
        f"(default $BENCH_POSTGRES_URL or {POSTGRES_URL})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one extra WARNING run under py-spy (pip install py-spy); flame graph in results",
    )
    add_against_argument(parser)
    end_to_end.add_arguments(parser)
    parser.add_argument("--timeout", type=float, help="seconds any one run may take (default 300)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="directory for the JSON file"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.count = args.count or (3000 if quick else 20000)
    args.rounds = args.rounds or (1 if quick else 3)
    args.latency_seconds = args.latency_seconds or (2.0 if quick else 5.0)
    args.timeout = args.timeout or (120.0 if quick else 300.0)
    args.rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    args.inbound_count = args.inbound_count or (2000 if quick else 5000)
    args.publish_count = args.publish_count or (2000 if quick else 5000)
    args.backlog_size = args.backlog_size or (100_000 if quick else 1_000_000)
    args.fan_out_endpoints = args.fan_out_endpoints or (1000 if quick else 10_000)
    args.end_to_end_count = args.end_to_end_count or (2000 if quick else 10_000)
    _check(parser, args)
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse sizes outside the bounds that keep a run finite on a shared machine."""
    for name, value, most in (
        ("inbound count", args.inbound_count, 100_000),
        ("publish count", args.publish_count, 100_000),
        ("fan-out endpoints", args.fan_out_endpoints, 50_000),
        ("end-to-end count", args.end_to_end_count, 200_000),
    ):
        if not 1 <= value <= most:
            parser.error(f"{name} is bounded at 1..{most:,}")
    if args.count < 1 or args.rounds < 1 or not args.rates or min(args.rates) <= 0:
        parser.error("count, rounds and rates must be positive")
    if args.count > 1_000_000:
        parser.error("count is bounded at 1,000,000")
    if not args.count < args.backlog_size <= 2_000_000:
        parser.error("the large backlog must hold more than --count and at most 2,000,000")
    if not 0.1 <= args.noisy_timeout <= 30:
        parser.error("the noisy-neighbours timeout is bounded at 0.1..30 s")
    if max(args.rates) * args.latency_seconds > 100_000:
        parser.error("rate x latency seconds is bounded at 100,000 messages")


class _Run:
    """One ``python -m bench``: its settings, its processes' directory, what it measured."""

    def __init__(self, args: argparse.Namespace, workdir: Path, receiver: Receiver) -> None:
        self.args = args
        self.workdir = workdir
        self.receiver = receiver
        self.settings = load_settings({"log_level": "WARNING"})
        self.endpoints = args.endpoints or max(
            1, -(-self.settings.worker_concurrency // self.settings.endpoint_concurrency)
        )
        # Children inherit HOOKLINE_* from this environment. The SSRF defence stays on (its
        # checks are part of the measured path); only the loopback receiver is let through.
        # Every process of the run shares one key file, made by the first, beside the databases.
        self.env = {
            "HOOKLINE_ALLOWED_NETWORKS": os.environ.get("HOOKLINE_ALLOWED_NETWORKS", "127.0.0.0/8"),
            "HOOKLINE_SECRET_KEY_FILE": str(workdir / "hookline.key"),
        }
        # The inbound and publish figures' servers: hookline api in --api-processes processes.
        self.api_env = {**self.env, "HOOKLINE_API_PROCESSES": str(args.api_processes)}
        self.levels = ["WARNING"] if args.skip_info else ["WARNING", "INFO"]
        self.controls = {} if args.skip_controls else CONTROLS
        # Noisy neighbours: the same healthy endpoints and deliveries, plus a quarter as many
        # endpoints again (20% of them all) that hang, with their share of the messages.
        self.hanging = max(1, self.endpoints // 4)
        self.noisy_env = {**self.env, "HOOKLINE_REQUEST_TIMEOUT": f"{args.noisy_timeout:g}"}
        self.m = Measurements(
            runs={level: [] for level in self.levels},
            controls={name: [] for name in self.controls},
            inbound={"ceiling": [], "hookline": []},
            publish={"ceiling": [], "hookline": []},
            api_processes=args.api_processes,
            postgres={} if args.skip_postgres else {n: [] for n in POSTGRES_WORKERS},
            drains={} if args.skip_backlog else {"small": [], "large": []},
        )
        self.fan_out: FanOut | None = None
        self.comparison = Comparison(args.against) if args.against else None
        self.end_to_end = end_to_end.EndToEnd()

    def _against(self, env: dict[str, str]) -> dict[str, str]:
        assert self.comparison is not None
        return against_env(env, self.comparison.tree)

    def set_up(self, stack: ExitStack) -> None:
        """Publish the backlogs, grow the large one, create the fan-out endpoints."""
        args, receiver, workdir, env, m = self.args, self.receiver, self.workdir, self.env, self.m
        _say(f"publishing the backlog: {args.count:,} messages to {self.endpoints} endpoints")
        m.backlogs["none"] = publish_backlog(receiver, args.count, self.endpoints, workdir, env)
        for name, fields in self.controls.items():
            _say(f"publishing the backlog with a {CONTROL_LABELS[name]} on every endpoint")
            m.backlogs[name] = publish_backlog(
                receiver, args.count, self.endpoints, workdir, env, fields, f"backlog-{name}"
            )
        if not args.skip_noisy:
            total = self.endpoints + self.hanging
            _say(f"publishing the noisy backlog: {self.hanging} of {total} endpoints hang")
            m.backlogs["noisy"] = publish_backlog(
                receiver,
                args.count * total // self.endpoints,
                total,
                workdir,
                env,
                name="backlog-noisy",
                hanging=self.hanging,
            )
        if m.postgres:
            postgres = PostgresDatabases(args.postgres_url)
            stack.callback(postgres.close)
            seed = min(args.count, POSTGRES_SEED)
            _say(
                f"publishing {seed} messages on PostgreSQL ({postgres.prefix}_*), growing them "
                f"to {args.count:,} with SQL"
            )

            def postgres_backlog() -> Backlog:
                published = publish_backlog(
                    receiver,
                    seed,
                    self.endpoints,
                    workdir,
                    env,
                    name="backlog-postgres",
                    databases=postgres,
                )
                if seed == args.count:
                    return published
                return grow_backlog(published, args.count, "backlog-postgres-grown")

            m.backlogs["postgres"] = self._postgres("the PostgreSQL backlog", postgres_backlog)
        if m.drains:
            _say(f"growing a copy of the backlog to {args.backlog_size:,} due deliveries")
            m.backlogs["large"] = grow_backlog(
                m.backlogs["none"], args.backlog_size, "backlog-large"
            )
        if not args.skip_fan_out:
            _say(f"creating {args.fan_out_endpoints:,} endpoints for the fan-out")
            self.fan_out = prepare_fan_out(receiver, args.fan_out_endpoints, workdir, env)

    def _postgres(self, what: str, step: Callable[[], T]) -> T:
        """Do a PostgreSQL step, again if it fails (``POSTGRES_TRIES`` in all).

        On a shared machine another test may restart the server under a run (hookline
        then answers 503 until it reconnects): such a run measures the restart, not
        hookline. Each failure is kept, and the notes under the table list them.
        """
        for attempt in range(1, POSTGRES_TRIES + 1):
            try:
                return step()
            except BenchError as error:
                if attempt == POSTGRES_TRIES:
                    raise
                reason = str(error).splitlines()[0][:300]
                self.m.disturbed.append(f"{what}: {reason}")
                _say(f"{what} failed, trying again: {reason}")
                time.sleep(5.0)
        raise AssertionError("unreachable")

    def _worker(self, backlog: Backlog, level: str = "WARNING", **options: Any) -> ThroughputResult:
        env = options.pop("env", self.env)
        return measure_hookline(
            self.receiver, backlog, level, self.workdir, self.args.timeout, env, **options
        )

    def outbound_round(self, number: int) -> None:
        """One run of each outbound kind, in a fixed order."""
        args, receiver, m = self.args, self.receiver, self.m
        concurrency = self.settings.worker_concurrency
        receiver.reset()
        ceiling = measure_ceiling(
            receiver.url, args.count, concurrency, self.endpoints, args.timeout
        )
        m.ceilings.append(replace(ceiling, connections=receiver.connections()))
        _say(f"round {number}: ceiling {num(ceiling.per_second)} req/s")
        for level in self.levels:
            m.runs[level].append(self._worker(m.backlogs["none"], level))
            _say(f"round {number}: hookline {level} {num(m.runs[level][-1].per_second)}/s")
        if self.comparison is not None:
            other = self._worker(m.backlogs["none"], env=self._against(self.env))
            self.comparison.add(
                "worker, SQLite, WARNING, deliveries/s", m.runs["WARNING"][-1], other
            )
            _say(f"round {number}: {self.comparison.tree.name} WARNING {num(other.per_second)}/s")
        if not args.skip_noisy:
            m.noisy.append(self._worker(m.backlogs["noisy"], env=self.noisy_env))
            _say(f"round {number}: noisy neighbours {num(m.noisy[-1].per_second)}/s")
        for name, results in m.controls.items():
            results.append(self._worker(m.backlogs[name]))
            _say(f"round {number}: hookline, {name} {num(results[-1].per_second)}/s")
        for workers, results in m.postgres.items():
            results.append(
                self._postgres(
                    f"round {number}: PostgreSQL, {workers} worker(s)",
                    partial(self._worker, m.backlogs["postgres"], workers=workers),
                )
            )
            _say(f"round {number}: PostgreSQL, {workers} worker(s) {num(results[-1].per_second)}/s")
            if self.comparison is not None:
                other = self._postgres(
                    f"round {number}: PostgreSQL, {workers} worker(s), {self.comparison.tree.name}",
                    partial(
                        self._worker,
                        m.backlogs["postgres"],
                        workers=workers,
                        env=self._against(self.env),
                    ),
                )
                figure = f"PostgreSQL, {workers} worker(s), deliveries/s"
                self.comparison.add(figure, results[-1], other)
                _say(
                    f"round {number}: {figure}, {self.comparison.tree.name} {num(other.per_second)}"
                )
        for size, results in m.drains.items():
            source = m.backlogs["none" if size == "small" else "large"]
            results.append(self._worker(source, first=args.count))
            rate = num(results[-1].per_second)
            _say(f"round {number}: first {args.count:,} of {source.count:,} due, {rate}/s")
        if self.fan_out is not None:
            receiver.reset()
            lanes = self.fan_out.setup.lanes
            m.fan_out_ceilings.append(
                measure_ceiling(receiver.url, lanes, concurrency, lanes, args.timeout)
            )
            m.fan_outs.append(
                measure_fan_out(receiver, self.fan_out, self.workdir, args.timeout, self.env)
            )
            _say(f"round {number}: " + _rates("fan-out", m.fan_out_ceilings, m.fan_outs))

    def request_round(self, number: int) -> None:
        """One run each of the minimal ASGI app and of ``hookline api``, per request figure."""
        args, m, workdir = self.args, self.m, self.workdir
        if not args.skip_inbound:
            n = args.inbound_count
            m.inbound["ceiling"].append(
                inbound.measure_ceiling(n, CONCURRENCY, workdir, args.api_processes)
            )
            m.inbound["hookline"].append(
                inbound.measure_hookline(n, CONCURRENCY, workdir, self.api_env)
            )
            _say(f"inbound round {number}: " + _rates("", *m.inbound.values()))
        if not args.skip_publish:
            n, lanes = args.publish_count, self.endpoints
            m.publish["ceiling"].append(
                publish.measure_ceiling(n, CONCURRENCY, lanes, workdir, args.api_processes)
            )
            m.publish["hookline"].append(
                publish.measure_hookline(
                    self.receiver, n, CONCURRENCY, lanes, workdir, self.api_env
                )
            )
            _say(f"publish round {number}: " + _rates("", *m.publish.values()))
            if self.comparison is not None:
                other = publish.measure_hookline(
                    self.receiver, n, CONCURRENCY, lanes, workdir, self._against(self.api_env)
                )
                self.comparison.add("publish API, req/s", m.publish["hookline"][-1], other)
                _say(
                    f"publish round {number}: {self.comparison.tree.name} {num(other.per_second)}/s"
                )

    def end_to_end_round(self, number: int) -> None:
        """The relay, then ``hookline serve``, then the bare loop at 64 and at 512 in flight."""
        args, e2e, n = self.args, self.end_to_end, self.args.end_to_end_count
        timeout = args.timeout
        e2e.relay.append(
            end_to_end.measure_relay(
                self.receiver, n, self.endpoints, self.workdir, self.env, timeout
            )
        )
        e2e.serve.append(
            end_to_end.measure_serve(
                self.receiver, n, self.endpoints, self.workdir, self.env, timeout
            )
        )
        _say(f"end-to-end round {number}: " + _rates("", e2e.relay, e2e.serve))
        for in_flight in (end_to_end.PUBLISHERS, self.settings.worker_concurrency):
            loop = end_to_end.measure_bare_loop(
                self.receiver, args.count, in_flight, self.endpoints, timeout
            )
            e2e.loops.setdefault(in_flight, []).append(loop)
            _say(
                f"end-to-end round {number}: bare loop, {in_flight} in flight, "
                f"{num(loop.per_second)}/s, receiver {loop.receiver_busy:.2f} cores"
            )

    def profile(self) -> Path:
        """One more WARNING run, under py-spy: a flame graph of the worker."""
        self.args.results.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path: Path = self.args.results / f"profile-worker-{stamp}.svg"
        self._worker(self.m.backlogs["none"], profile=path)
        _say(f"profile written to {path}")
        return path

    def document(self, started: float, profile_path: Path | None) -> dict[str, Any]:
        """What is saved beside the table: the machine, the parameters, every row's data."""
        args, settings = self.args, self.settings
        return {
            "benchmark": "hookline",
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(time.monotonic() - started, 1),
            "machine": machine() | {"event_loop": loop_name()},
            "parameters": {
                "count": args.count,
                "rounds": args.rounds,
                "endpoints": self.endpoints,
                "payload_bytes": PAYLOAD_BYTES,
                "rates": args.rates,
                "inbound_count": args.inbound_count,
                "publish_count": args.publish_count,
                "api_processes": args.api_processes,
                "request_concurrency": CONCURRENCY,
                "backlog_size": None if args.skip_backlog else args.backlog_size,
                "fan_out_endpoints": None if args.skip_fan_out else args.fan_out_endpoints,
                "noisy": None
                if args.skip_noisy
                else {
                    "hanging": self.hanging,
                    "endpoints": self.endpoints + self.hanging,
                    "timeout": args.noisy_timeout,
                },
                "postgres_workers": list(self.m.postgres),
                "latency_seconds": args.latency_seconds,
                "worker_concurrency": settings.worker_concurrency,
                "endpoint_concurrency": settings.endpoint_concurrency,
                "claim_batch": settings.claim_batch,
                "sqlite_synchronous": settings.sqlite_synchronous,
                "hookline_env": self.env,
                "controls": self.controls,
                "how": "best run of each kind; ratio = best hookline / best ceiling",
            },
            "profile": str(profile_path) if profile_path else None,
            "disturbed": self.m.disturbed,
        }


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """Do every measurement; return the table's rows and the document to save."""
    started = time.monotonic()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    profile_path: Path | None = None
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hookline-bench-")))
        bench = _Run(args, workdir, stack.enter_context(Receiver()))
        bench.set_up(stack)
        for number in range(1, args.rounds + 1):
            bench.outbound_round(number)
        if args.profile:
            profile_path = bench.profile()
        if not args.skip_latency:
            bench.m.latencies = measure_latency(
                args.rates,
                args.latency_seconds,
                bench.endpoints,
                workdir,
                args.timeout,
                env=bench.env,
            )
        for number in range(1, args.rounds + 1):
            bench.request_round(number)
        if not args.skip_end_to_end:
            for number in range(1, args.rounds + 1):
                bench.end_to_end_round(number)
    table_rows = rows(bench.m, bench.settings, args.backlog_size) + bench.end_to_end.rows()
    if bench.comparison is not None:
        table_rows += bench.comparison.rows()
    document = bench.document(started, profile_path)
    document["machine"] |= {
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "load_1min_during": {"min": min(_LOADS), "max": max(_LOADS)} if _LOADS else None,
    }
    document["rows"] = [asdict(row) for row in table_rows]
    return table_rows, document


def _rates(label: str, ceilings: Sequence[Any], results: Sequence[Any]) -> str:
    """The last run of each, as the progress lines say it."""
    return (
        f"{label}{' ' if label else ''}ceiling {num(ceilings[-1].per_second)}/s, "
        f"hookline {num(results[-1].per_second)}/s"
    )


#: The 1-minute load average at each progress line: the machine is shared, the notes say how.
_LOADS: list[float] = []


def _say(text: str) -> None:
    _LOADS.append(round(os.getloadavg()[0], 2))
    print(f"[bench] {text} (load {_LOADS[-1]:.1f})", file=sys.stderr, flush=True)


def _load_range(during: dict[str, float] | None) -> str:
    return f"{during['min']:.1f}-{during['max']:.1f}" if during else "not sampled"


def _notes(document: dict[str, Any]) -> str:
    info, params = document["machine"], document["parameters"]
    endpoints, cap = params["endpoints"], params["endpoint_concurrency"]
    in_flight = min(params["worker_concurrency"], endpoints * cap)
    noisy = params["noisy"]
    return "\n".join(
        [
            f"Machine: {info['cpus']} CPUs ({info['cpu_model']}), load averages "
            f"{info['load_average_at_start']} at start, {info['load_average_at_end']} at the "
            f"end, 1-minute load {_load_range(info['load_1min_during'])} during the run; "
            f"Python {info['python']}, aiohttp {info['packages']['aiohttp']}, "
            f"{info['event_loop']} (hookline and ceilings alike). Wall time "
            f"{document['wall_seconds']:,.0f} s.",
            f"Runs: N={params['count']:,} signed {params['payload_bytes']} B JSON POSTs; "
            f"throughput is the best of {params['rounds']} interleaved round(s); "
            f"{endpoints} endpoints x {cap} = {in_flight} in flight; "
            f"SQLite synchronous={params['sqlite_synchronous']}; latency at each rate for "
            f"{params['latency_seconds']:g} s.",
            "CPU rows: ratio = the ceiling sender's CPU per request / hookline's CPU per "
            "delivery (lowest run of each).",
            *(
                [
                    "Controls rows: ratio = best run with the control on all endpoints / best "
                    "WARNING run without (same count, endpoints, receiver); transformations run "
                    "in the worker, payload filters at publish (hence the CPU-per-publish rows)."
                ]
                if params["controls"]
                else []
            ),
            *(
                [
                    f"Backlog rows: the first N={params['count']:,} deliveries received and "
                    f"recorded, with {params['backlog_size']:,} due (grown with SQL) against "
                    f"N due (the backlog published through the API)."
                ]
                if params["backlog_size"]
                else []
            ),
            *(
                [f"Run again after a failure outside hookline: {'; '.join(document['disturbed'])}"]
                if document["disturbed"]
                else []
            ),
            *(
                [
                    f"Noisy neighbours: {noisy['hanging']} of {noisy['endpoints']} endpoints "
                    f"never answer (HOOKLINE_REQUEST_TIMEOUT={noisy['timeout']:g}); ratio = "
                    "best healthy deliveries/s / best WARNING run (same healthy endpoints and "
                    "deliveries, none hanging)."
                ]
                if noisy
                else []
            ),
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
        table_rows, document = run(args)
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    finally:
        stop_all()
    document["notes"] = _notes(document)
    print(table(table_rows))
    print()
    print(document["notes"])
    path = save(document, args.results)
    print(f"saved {os.path.relpath(path)}")
