"""End to end: what a separate publisher gets delivered per second through ``hookline serve``.

A publisher process sends ``count`` publishes (the SDK's body: a 1 KiB payload, a
unique ``eventId``, one lane each) with ``concurrency`` in flight to the API of
``hookline serve`` started with no flags, on a fresh SQLite file; the run ends when
the receiver has every message and every attempt is recorded in the database. The
ceiling is the same publisher against ``bench.relay``: the same ASGI server answering
202 at once and forwarding each payload from memory through hookline's HTTP client,
with no storage. Rate = messages / (end - the publisher's first request).

Beside them, two checks that the ceilings measure the sender, not the bench: the
bare aiohttp loop at ``concurrency`` as well as at a worker's 512 in flight, and the
receiver's CPU while the bare loop runs (a receiver near one full core would be the
limit, and every ratio against it would flatter hookline).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import orjson

from hookline.settings import load_settings

from bench.api import HooklineApi, Setup, lane
from bench.ceiling import CeilingResult, measure_ceiling
from bench.client import _wait_for_url, send_all
from bench.common import EVENT_TYPE, BenchError, die_with_parent, payload, run_loop
from bench.delivery import client_session, wait_for_receipts
from bench.processes import AUTH, HooklineProcess, process_cpu_seconds, stop_all
from bench.receiver import Receiver
from bench.report import Row, table

#: Publishes in flight from the publisher process (the issue's figure).
PUBLISHERS = 64
#: The goal: hookline serve's end-to-end rate over the relay's.
END_TO_END_GOAL = 0.6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The end-to-end figure's options on the bench's command line."""
    parser.add_argument("--skip-end-to-end", action="store_true", help="no end-to-end figure")
    parser.add_argument(
        "--end-to-end-count",
        type=int,
        help="messages per end-to-end run (default 10000; quick 2000)",
    )


@dataclass(frozen=True)
class EndToEndResult:
    """One end-to-end run: messages delivered (and recorded) per second, publish to last."""

    what: str
    count: int
    seconds: float
    #: How long the publisher took to have every publish answered.
    publish_seconds: float

    @property
    def per_second(self) -> float:
        """Messages published and delivered per second."""
        return self.count / self.seconds


def _publish_child(
    conn: Connection, url: str, setup: Setup, count: int, concurrency: int, tag: str
) -> None:
    die_with_parent()
    headers = {**AUTH, "content-type": "application/json"}
    requests = [
        (
            orjson.dumps(
                {
                    "eventType": EVENT_TYPE,
                    "eventId": f"{tag}-{seq}",
                    "payload": payload(seq),
                    "channels": [lane(seq, setup.lanes)],
                }
            ),
            headers,
        )
        for seq in range(count)
    ]
    target = f"{url}/api/v1/app/{setup.app_id}/msg"
    started = time.time()
    seconds = run_loop(lambda: send_all(target, requests, concurrency))
    conn.send((started, seconds))
    conn.close()


def _publisher(url: str, setup: Setup, count: int, concurrency: int) -> tuple[Connection, object]:
    """Start the publisher process; its pipe answers (wall time of the start, seconds)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    tag = f"e2e{time.monotonic_ns()}"
    process = context.Process(
        target=_publish_child, args=(child, url, setup, count, concurrency, tag), daemon=True
    )
    process.start()
    child.close()
    return parent, process


def _finish(parent: Connection, process: object, timeout: float) -> tuple[float, float]:
    try:
        if not parent.poll(timeout):
            raise BenchError(f"the publisher took longer than {timeout:.0f}s")
        started, seconds = parent.recv()
        return float(started), float(seconds)
    finally:
        parent.close()
        process.join(5)  # type: ignore[attr-defined]


def _recorded(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        (count,) = conn.execute("SELECT count(*) FROM attempts").fetchone()
        return int(count)


async def _until_recorded(database: Path, count: int, deadline: float) -> None:
    while (seen := await asyncio.to_thread(_recorded, database)) < count:
        if time.perf_counter() > deadline:
            raise BenchError(f"{seen} of {count} attempts recorded in time")
        await asyncio.sleep(0.01)


def _run(
    url: str,
    setup: Setup,
    receiver: Receiver,
    count: int,
    concurrency: int,
    timeout: float,
    database: Path | None,
) -> tuple[float, float]:
    """Publish ``count`` messages and wait for them all; (seconds to the last, publish s)."""
    receiver.reset()
    parent, process = _publisher(url, setup, count, concurrency)

    async def wait() -> float:
        async with client_session() as session:
            deadline = time.perf_counter() + timeout
            await wait_for_receipts(session, receiver, count, deadline)
            if database is not None:
                await _until_recorded(database, count, deadline)
        return time.time()

    ended = run_loop(wait)
    started, publish_seconds = _finish(parent, process, timeout)
    return ended - started, publish_seconds


def measure_relay(
    receiver: Receiver, count: int, lanes: int, workdir: Path, env: dict[str, str], timeout: float
) -> EndToEndResult:
    """The relay's end-to-end rate for ``count`` publishes."""
    log = workdir / f"relay-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        relay = subprocess.Popen(
            [sys.executable, "-m", "bench.relay", receiver.url, str(lanes)],
            stdout=out,
            stderr=out,
            env={**os.environ, **env},
        )
    try:
        url = _wait_for_url(log, relay)
        setup = Setup("app_" + "0" * 27, ("",) * lanes)
        seconds, publish_seconds = _run(url, setup, receiver, count, PUBLISHERS, timeout, None)
    finally:
        relay.terminate()
        relay.wait(10)
    return EndToEndResult("relay", count, seconds, publish_seconds)


def measure_serve(
    receiver: Receiver, count: int, lanes: int, workdir: Path, env: dict[str, str], timeout: float
) -> EndToEndResult:
    """``hookline serve`` (no flags, fresh SQLite file)'s end-to-end rate."""
    tag = time.monotonic_ns()
    database = workdir / f"end-to-end-{tag}.db"
    server = HooklineProcess("serve", f"sqlite:///{database}", workdir / f"e2e-{tag}.log", env)
    try:
        server.start()

        async def create() -> Setup:
            async with client_session() as session:
                return await HooklineApi(session, server.url).setup(receiver.url, lanes)

        setup = run_loop(create)
        seconds, publish_seconds = _run(
            server.url, setup, receiver, count, PUBLISHERS, timeout, database
        )
    except BenchError as error:
        raise BenchError(f"{error}\n--- end of the server's log ---\n{server.logs()}") from error
    finally:
        server.stop()
    return EndToEndResult("hookline serve", count, seconds, publish_seconds)


@dataclass(frozen=True)
class BareLoop:
    """A bare aiohttp loop's run and what the receiver spent on it."""

    in_flight: int
    result: CeilingResult
    receiver_cpu_seconds: float

    @property
    def per_second(self) -> float:
        """Requests per second of the loop."""
        return self.result.per_second

    @property
    def receiver_busy(self) -> float:
        """The receiver's CPU over the run's wall time (1.0 = one full core)."""
        return self.receiver_cpu_seconds / self.result.seconds


def measure_bare_loop(
    receiver: Receiver, count: int, in_flight: int, lanes: int, timeout: float
) -> BareLoop:
    """The bare aiohttp loop at ``in_flight``, with the receiver's CPU meanwhile."""
    receiver.reset()
    before = process_cpu_seconds(receiver.pid)
    result = measure_ceiling(receiver.url, count, in_flight, lanes, timeout)
    return BareLoop(in_flight, result, process_cpu_seconds(receiver.pid) - before)


@dataclass
class EndToEnd:
    """Every end-to-end run of a bench, and the bare loops beside them."""

    relay: list[EndToEndResult] = field(default_factory=list)
    serve: list[EndToEndResult] = field(default_factory=list)
    loops: dict[int, list[BareLoop]] = field(default_factory=dict)

    def rows(self) -> list[Row]:
        """The end-to-end row against its relay ceiling, and the checks on the ceilings."""
        if not self.serve:
            return []
        relay = max(self.relay, key=lambda r: r.per_second)
        serve = max(self.serve, key=lambda r: r.per_second)
        table = [
            Row(
                f"ceiling (end to end): non-durable relay, {PUBLISHERS} publishes in flight, msg/s",
                f"{relay.per_second:,.0f}",
                data={"runs": [asdict(r) for r in self.relay]},
            ),
            Row(
                "end to end: hookline serve (no flags), published, delivered and recorded, msgs/s",
                f"{serve.per_second:,.0f}",
                f"{relay.per_second:,.0f}",
                f"{serve.per_second / relay.per_second:.2f}",
                f">= {END_TO_END_GOAL}",
                data={"runs": [asdict(r) for r in self.serve]},
            ),
        ]
        for in_flight, loops in sorted(self.loops.items()):
            top = max(loops, key=lambda loop: loop.per_second)
            table.append(
                Row(
                    f"check: bare aiohttp loop, {in_flight} in flight, req/s; receiver CPU, cores",
                    f"{top.per_second:,.0f}; {max(loop.receiver_busy for loop in loops):.2f}",
                    data={"runs": [asdict(loop) for loop in loops]},
                )
            )
        return table


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.end_to_end``: only the end-to-end rows, the relay and ``serve``
    alternating, each line with the load average at its end (a short run on a shared box).

    ``HOOKLINE_*`` variables of this environment reach ``serve`` (for instance
    ``HOOKLINE_SINGLE_PROCESS=true``, the single-process layout)."""
    parser = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=main.__doc__)
    parser.add_argument("--count", type=int, default=5000, help="messages per run (default 5000)")
    parser.add_argument("--rounds", type=int, default=2, help="relay/serve pairs (default 2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run at most")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 200_000 or not 1 <= args.rounds <= 10:
        parser.error("count is bounded at 1..200,000 and rounds at 1..10")
    settings = load_settings({"log_level": "WARNING"})
    lanes = max(1, -(-settings.worker_concurrency // settings.endpoint_concurrency))
    figures = EndToEnd()
    try:
        with tempfile.TemporaryDirectory(prefix="hookline-e2e-") as name, Receiver() as receiver:
            workdir = Path(name)
            env = {
                "HOOKLINE_ALLOWED_NETWORKS": "127.0.0.0/8",
                "HOOKLINE_SECRET_KEY_FILE": str(workdir / "hookline.key"),
            }
            for number in range(1, args.rounds + 1):
                for measure, runs in (
                    (measure_relay, figures.relay),
                    (measure_serve, figures.serve),
                ):
                    result = measure(receiver, args.count, lanes, workdir, env, args.timeout)
                    runs.append(result)
                    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                    print(
                        f"round {number}: {result.what}: {result.per_second:,.0f} msg/s "
                        f"(publishes answered in {result.publish_seconds:.2f}s; load {load})",
                        file=sys.stderr,
                    )
    finally:
        stop_all()
    print(table(figures.rows()))


if __name__ == "__main__":
    main()
