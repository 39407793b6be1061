"""Latency and memory through ``hookline serve`` at a fixed offered rate.

A publisher process offers publishes at ``rate`` per second, open loop: the i-th is
due at ``start + i / rate`` whether or not earlier ones were answered (up to a
bound in flight), so a stall shows up as latency instead of slowing the offer down
(no coordinated omission). A message's latency is its arrival at the receiver minus
the moment its publish was due, so the time it queued in the publisher counts too.

The same run samples the resident memory of ``serve``'s whole process tree every
few seconds: the figure for the issue's soak (a long run, RSS flat within 10%) is
the last tenth of the run against the second tenth (the first is the warm-up).

``python -m bench.latency`` (500/s for 20 s) gives the latency row;
``python -m bench.latency --rate 1700 --seconds 600`` is the ten-minute, million-
message soak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
import orjson

from hookline.settings import load_settings

from bench.api import HooklineApi, Setup, lane
from bench.common import EVENT_TYPE, BenchError, die_with_parent, payload, percentile, run_loop
from bench.delivery import client_session
from bench.processes import AUTH, HooklineProcess, stop_all
from bench.receiver import Receiver
from bench.report import Row, table

#: The issue's goal: p99 under 50 ms at 500/s offered.
P99_GOAL_MS = 50.0
#: The soak's goal: RSS at the end within 10% of RSS after the warm-up.
RSS_GROWTH_GOAL = 0.10
#: Publishes in flight at most; past it the publisher waits (and the wait is latency).
MOST_IN_FLIGHT = 512
#: Seconds between two memory samples.
SAMPLE_EVERY = 2.0


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and every process under it, in KiB (Linux ``/proc``)."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    pending += [int(c) for c in (task / "children").read_text().split()]
    return total


async def _offer(url: str, setup: Setup, rate: float, seconds: float) -> dict[str, float]:
    """Publish at ``rate``/s for ``seconds``; each message id with the time it was due."""
    target = f"{url}/api/v1/app/{setup.app_id}/msg"
    headers = {**AUTH, "content-type": "application/json"}
    count = int(rate * seconds)
    due: dict[str, float] = {}
    failures: list[str] = []
    room = asyncio.Semaphore(MOST_IN_FLIGHT)
    tag = f"lat{time.monotonic_ns()}"
    connector = aiohttp.TCPConnector(limit=MOST_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(seq: int, at: float) -> None:
            body = orjson.dumps(
                {
                    "eventType": EVENT_TYPE,
                    "eventId": f"{tag}-{seq}",
                    "payload": payload(seq),
                    "channels": [lane(seq, setup.lanes)],
                }
            )
            try:
                async with session.post(target, data=body, headers=headers) as response:
                    answer = await response.read()
                    if response.status != 202:
                        failures.append(f"{response.status} {answer[:200]!r}")
                        return
                    due[orjson.loads(answer)["id"]] = at
            finally:
                room.release()

        started = time.time()
        tasks = []
        for seq in range(count):
            at = started + seq / rate
            wait = at - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await room.acquire()
            tasks.append(asyncio.create_task(one(seq, at)))
        await asyncio.gather(*tasks)
    if failures:
        raise BenchError(f"{len(failures)} publishes failed, e.g. HTTP {failures[0]}")
    return due


def _publisher_child(conn: Connection, url: str, setup: Setup, rate: float, seconds: float) -> None:
    die_with_parent()
    try:
        conn.send(("ok", run_loop(lambda: _offer(url, setup, rate, seconds))))
    except Exception as error:  # the parent reports it with the server's log
        conn.send(("error", f"{type(error).__name__}: {error}"))
    conn.close()


@dataclass(frozen=True)
class LatencyRun:
    """One run at a fixed rate: latencies (ms) of every message, and RSS samples (KiB)."""

    rate: float
    seconds: float
    latencies_ms: list[float]
    rss_kib: list[int]
    lost: int

    def percentile(self, fraction: float) -> float:
        """A latency percentile, in milliseconds."""
        return percentile(self.latencies_ms, fraction)

    @property
    def rss_growth(self) -> float:
        """RSS in the last tenth of the run over the second tenth, less one."""
        tenth = max(1, len(self.rss_kib) // 10)
        settled = max(self.rss_kib[tenth : 2 * tenth] or self.rss_kib[:1])
        last = max(self.rss_kib[-tenth:])
        return last / settled - 1


def measure(
    receiver: Receiver, rate: float, seconds: float, workdir: Path, env: dict[str, str]
) -> LatencyRun:
    """Offer ``rate``/s to a fresh ``hookline serve`` for ``seconds``; latencies and RSS."""
    settings = load_settings({"log_level": "WARNING"})
    lanes = max(1, -(-settings.worker_concurrency // settings.endpoint_concurrency))
    tag = time.monotonic_ns()
    database = workdir / f"latency-{tag}.db"
    server = HooklineProcess("serve", f"sqlite:///{database}", workdir / f"lat-{tag}.log", env)
    try:
        server.start()

        async def create() -> Setup:
            async with client_session() as session:
                return await HooklineApi(session, server.url).setup(receiver.url, lanes)

        setup = run_loop(create)
        receiver.reset()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=False)
        publisher = context.Process(
            target=_publisher_child, args=(child, server.url, setup, rate, seconds), daemon=True
        )
        publisher.start()
        child.close()
        rss: list[int] = []
        deadline = time.monotonic() + seconds + 120
        while not parent.poll(SAMPLE_EVERY):
            rss.append(tree_rss_kib(server.pid))
            if time.monotonic() > deadline:
                raise BenchError("the publisher did not finish in time")
        try:
            outcome, due = parent.recv()
        except EOFError as error:
            raise BenchError("the publisher died without a word") from error
        publisher.join(5)
        if outcome != "ok":
            raise BenchError(f"the publisher failed: {due}")
        # Let the last deliveries land (bounded), then read the arrivals once.
        settle = time.monotonic() + 60
        while receiver.count() < len(due) and time.monotonic() < settle:
            time.sleep(0.2)
        rss.append(tree_rss_kib(server.pid))
        arrivals = receiver.arrivals()
    except BenchError as error:
        raise BenchError(f"{error}\n--- end of the server's log ---\n{server.logs()}") from error
    finally:
        server.stop()
    latencies = [(arrivals[m] - at) * 1000 for m, at in due.items() if m in arrivals]
    if not latencies:
        raise BenchError("no message arrived")
    return LatencyRun(rate, seconds, latencies, rss, len(due) - len(latencies))


def rows(run: LatencyRun) -> list[Row]:
    """The latency row (p50/p95/p99 against the goal) and the memory row."""
    p50, p95, p99 = (run.percentile(f) for f in (0.5, 0.95, 0.99))
    delivered = len(run.latencies_ms)
    return [
        Row(
            f"latency through serve at {run.rate:,.0f}/s offered for {run.seconds:.0f}s: "
            f"p50 / p95 / p99 ms ({delivered:,} delivered, {run.lost} missing)",
            f"{p50:.1f} / {p95:.1f} / {p99:.1f}",
            f"{P99_GOAL_MS:.0f}",
            f"{p99 / P99_GOAL_MS:.2f}",
            "p99 <= 1.0 of 50 ms",
            data={"p50": p50, "p95": p95, "p99": p99, "missing": run.lost},
        ),
        Row(
            "memory: serve's RSS (all processes), after warm-up -> end, peak, MiB",
            f"{max(run.rss_kib[: max(2, len(run.rss_kib) // 5)]) / 1024:.0f} -> "
            f"{run.rss_kib[-1] / 1024:.0f}, peak {max(run.rss_kib) / 1024:.0f}",
            "",
            f"{run.rss_growth:+.2f}",
            f"growth <= {RSS_GROWTH_GOAL:.2f}",
            data={"rss_kib": run.rss_kib},
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.latency``: latency and memory through ``hookline serve`` (no flags)."""
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=main.__doc__)
    parser.add_argument("--rate", type=float, default=500.0, help="publishes/s (default 500)")
    parser.add_argument("--seconds", type=float, default=20.0, help="run length (default 20)")
    args = parser.parse_args(argv)
    if not 1 <= args.rate <= 20_000 or not 1 <= args.seconds <= 1800:
        parser.error("rate is bounded at 1..20,000/s and seconds at 1..1,800")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="hookline-latency-") as name,
            Receiver(record_arrivals=True) as receiver,
        ):
            workdir = Path(name)
            env = {
                "HOOKLINE_ALLOWED_NETWORKS": "127.0.0.0/8",
                "HOOKLINE_SECRET_KEY_FILE": str(workdir / "hookline.key"),
            }
            run = measure(receiver, args.rate, args.seconds, workdir, env)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load at the end: {load}", file=sys.stderr)
    finally:
        stop_all()
    print(table(rows(run)))


if __name__ == "__main__":
    main()
