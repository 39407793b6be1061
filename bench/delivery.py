"""The two hookline measurements: durable delivery throughput, and latency under load.

Throughput: publish first, then start the worker. A ``hookline api`` process on a fresh
database (a SQLite file, or a PostgreSQL database: ``bench.databases``) creates the
application and endpoints and takes ``count`` messages, each routed (by channel)
to exactly one endpoint, so ``count`` messages make ``count`` deliveries; no
worker runs, so nothing is sent. That database is the backlog: each run works on
a copy of it (publishing is slow next to delivering and is not what is
measured). For a run, a ``hookline api`` process (to answer the stats route) and
then one ``hookline worker`` process, or several side by side, start on the copy; the
clock runs from the worker's readiness line (interpreter start-up, ~1 s, is
left out and reported apart as ``worker_startup``) until the receiver has counted
``count`` requests *and* the stats route reports ``success`` for every delivery
(recorded in storage, i.e. durable). The receiver is polled over its control
path until it has them all, and only then the stats of endpoints not yet
complete, so the API process is idle while the worker runs. Delivery controls are
the same run on a backlog published to endpoints that carry them (``fields`` of
:func:`publish_backlog`): a payload filter is evaluated as each message is published,
a transformation by the worker as each delivery is sent. Noisy neighbours are the
same run on a backlog whose last endpoints point at paths the receiver never
answers: only the other endpoints' deliveries are counted and waited for.

Latency. One ``hookline serve`` process (API and worker together, the default
deployment) takes messages at a fixed offered rate, paced on a schedule (message
``i`` is sent at ``start + i / rate`` whatever the answers do); each message's
publish start time is kept by its id, the receiver stamps the first arrival of
each ``webhook-id``, and the difference is publish-to-receipt latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hookline.domain.models import AttemptStatus

from bench.api import HooklineApi, Setup
from bench.common import BenchError, percentile, run_loop
from bench.databases import Databases, SqliteFiles
from bench.processes import (
    HooklineProcess,
    machine_cpu_seconds,
    peak_rss_kib,
    process_cpu_seconds,
    thread_cpu_seconds,
)
from bench.receiver import Receiver


@dataclass(frozen=True)
class ThroughputResult:
    """One durable-delivery run of a ``hookline worker``."""

    log_level: str
    deliveries: int
    endpoints: int
    seconds: float
    received_after: float
    worker_startup: float
    received: int
    #: Connections the receiver saw opened during the run (a few are the benchmark's own).
    connections: int
    #: CPU seconds each thread of the worker used between readiness and the end (with
    #: several workers, the threads of worker ``i`` > 1 are prefixed ``worker i:``).
    cpu_seconds: dict[str, float]
    #: How many ``hookline worker`` processes shared the backlog.
    workers: int = 1
    #: The highest peak resident set size (VmHWM) of a worker process, KiB.
    peak_rss_kib: int = 0
    #: CPU seconds the database server's processes used for the run (PostgreSQL; 0 on SQLite).
    server_cpu_seconds: float = 0.0
    #: CPU seconds the receiver process used meanwhile.
    receiver_cpu_seconds: float = 0.0
    #: How busy the whole machine was meanwhile, all CPUs: 1.0 is every CPU busy all along.
    machine_busy: float = 0.0
    #: Requests the receiver left hanging (endpoints under ``/hang/``) meanwhile.
    hung: int = 0

    def cpu_us_per_delivery(self) -> float:
        """CPU time of the worker processes (all threads) per delivery, in microseconds."""
        return sum(self.cpu_seconds.values()) / self.deliveries * 1e6

    @property
    def per_second(self) -> float:
        """Deliveries received and recorded as succeeded, per second."""
        return self.deliveries / self.seconds


@dataclass(frozen=True)
class LatencyResult:
    """Publish-to-receipt latency at one offered rate."""

    rate: float
    seconds: float
    published: int
    received: int
    #: Publish requests started per second: the pacing kept (close to ``rate``).
    sent_rate: float
    #: Publish requests answered per second; below ``rate`` means the API is saturated.
    acked_rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float


def client_session() -> aiohttp.ClientSession:
    # Idle connections are dropped well before uvicorn's 5 s keep-alive closes them, or
    # a POST could go out on a connection the server is closing (reset, not retried).
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=2),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def _count(session: aiohttp.ClientSession, receiver: Receiver) -> int:
    async with session.get(receiver.url + "/_count") as response:
        return int(await response.read())


#: Seconds without a single new request at the receiver before a run is called stuck.
STALL_SECONDS = 15.0


async def wait_for_receipts(
    session: aiohttp.ClientSession, receiver: Receiver, count: int, deadline: float
) -> float:
    """Poll the receiver until ``count`` requests arrived; return ``perf_counter()`` then.

    Gives up at ``deadline``, or sooner when nothing arrives for ``STALL_SECONDS``
    (deliveries failing and waiting for a retry, say).
    """
    seen, progress_at = -1, time.perf_counter()
    while (current := await _count(session, receiver)) < count:
        now = time.perf_counter()
        if current != seen:
            seen, progress_at = current, now
        if now > deadline or now - progress_at > STALL_SECONDS:
            raise BenchError(f"receiver saw {current} of {count} requests (stalled or too slow)")
        await asyncio.sleep(0.005)
    return time.perf_counter()


async def _wait_for_success(
    api: HooklineApi, setup: Setup, expected: dict[str, int], deadline: float
) -> float:
    """Poll the stats of incomplete endpoints until all deliveries are recorded as succeeded."""
    waiting = dict(expected)
    while waiting:
        stats = await asyncio.gather(*(api.stats(setup, ep) for ep in waiting))
        for endpoint_id, counts in zip(list(waiting), stats, strict=True):
            if counts["fail"]:
                raise BenchError(f"endpoint {endpoint_id} has failed deliveries: {counts}")
            if counts["success"] >= waiting[endpoint_id]:
                del waiting[endpoint_id]
        if not waiting:
            break
        if time.perf_counter() > deadline:
            raise BenchError(f"deliveries not recorded as succeeded in time: {waiting}")
        await asyncio.sleep(0.005)
    return time.perf_counter()


@dataclass(frozen=True)
class Backlog:
    """A database holding ``count`` published, not yet delivered messages."""

    url: str
    #: Where ``url`` lives; each run works on a copy made there.
    databases: Databases
    setup: Setup
    count: int
    publish_per_second: float
    #: CPU time of the API process (all threads) per publish; 0 where it is not measured.
    publish_cpu_us: float = 0.0
    #: The last ``hanging`` endpoints of ``setup`` point at paths that never answer.
    hanging: int = 0

    def expected(self) -> dict[str, int]:
        """How many deliveries each endpoint gets (message ``seq`` goes to lane ``seq % lanes``)."""
        whole, rest = divmod(self.count, self.setup.lanes)
        return {
            endpoint_id: whole + (index < rest)
            for index, endpoint_id in enumerate(self.setup.endpoint_ids)
        }

    def healthy(self) -> dict[str, int]:
        """How many deliveries each endpoint that answers gets."""
        expected = self.expected()
        for endpoint_id in self.setup.endpoint_ids[self.setup.lanes - self.hanging :]:
            del expected[endpoint_id]
        return expected


def publish_backlog(
    receiver: Receiver,
    count: int,
    endpoints: int,
    workdir: Path,
    env: dict[str, str] | None,
    fields: Mapping[str, Any] | None = None,
    name: str = "backlog",
    *,
    databases: Databases | None = None,
    hanging: int = 0,
) -> Backlog:
    """Publish ``count`` messages through a ``hookline api`` process (no worker running).

    ``fields`` go into every endpoint (a payload filter, a transformation...); the
    database is made by ``databases`` (default: the file ``<name>.db`` in ``workdir``)
    and the last ``hanging`` endpoints never answer. Every message must have made a
    pending delivery (a filter that drops some is a broken benchmark, caught here
    rather than as a stalled run).
    """
    databases = databases or SqliteFiles(workdir)
    url = databases.create(name)
    api_process = HooklineProcess("api", url, workdir / f"{name}-api.log", env)
    try:
        api_process.start()

        async def publish() -> tuple[Setup, float, float, dict[str, int]]:
            async with client_session() as session:
                api = HooklineApi(session, api_process.url)
                setup = await api.setup(receiver.url, endpoints, fields, hanging=hanging)
                cpu_before = sum(thread_cpu_seconds(api_process.pid).values())
                started = time.perf_counter()
                await api.publish_many(setup, count)
                rate = count / (time.perf_counter() - started)
                cpu = sum(thread_cpu_seconds(api_process.pid).values()) - cpu_before
                stats = await asyncio.gather(*(api.stats(setup, ep) for ep in setup.endpoint_ids))
                pending = {
                    ep: s["pending"] for ep, s in zip(setup.endpoint_ids, stats, strict=True)
                }
                return setup, rate, cpu / count * 1e6, pending

        setup, rate, cpu_us, pending = run_loop(publish)
    finally:
        api_process.stop()
    backlog = Backlog(url, databases, setup, count, rate, cpu_us, hanging)
    if pending != backlog.expected():
        raise BenchError(f"{name}: pending deliveries {pending}, expected {backlog.expected()}")
    return backlog


def measure_hookline(
    receiver: Receiver,
    backlog: Backlog,
    log_level: str,
    workdir: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    profile: Path | None = None,
    *,
    workers: int = 1,
    first: int | None = None,
) -> ThroughputResult:
    """Time ``hookline worker`` delivering a copy of ``backlog`` until all are recorded.

    ``workers`` processes start side by side on the copy; the clock starts when the
    first is ready. Deliveries to hanging endpoints are left out of the count: the
    run ends when every other one is received and recorded. With ``first`` (SQLite
    only), the run ends instead once that many deliveries are received and their
    attempts recorded, whatever is still queued behind them (no API process runs:
    the attempts are counted in the database file). With ``profile``, py-spy samples
    the first worker (threads included) into that file as a flame graph; the run is
    slower then, so its figure is not a result.
    """
    tag = f"{log_level.lower()}-{time.monotonic_ns()}"
    database_url = backlog.databases.clone(backlog.url, f"run-{tag}")
    api_process = HooklineProcess("api", database_url, workdir / f"api-{tag}.log", env)
    processes = [
        HooklineProcess(
            "worker",
            database_url,
            workdir / f"worker-{tag}-{number}.log",
            {**(env or {}), "HOOKLINE_LOG_LEVEL": log_level},
        )
        for number in range(1, workers + 1)
    ]
    healthy = backlog.healthy()
    count = first or sum(healthy.values())
    profiler: list[subprocess.Popen[bytes]] = []
    usage = _Usage(backlog.databases, database_url, receiver.pid)
    try:
        if first is None:
            api_process.start()
        receiver.reset()

        async def deliver() -> tuple[float, float, int]:
            async with client_session() as session:
                for worker in processes:
                    worker.spawn()
                for worker in processes:
                    worker.wait_ready()
                usage.start([worker.pid for worker in processes])
                if profile is not None:
                    profiler.append(_start_profiler(processes[0].pid, profile))
                deadline = min(w.ready_at for w in processes) + timeout
                received_at = await wait_for_receipts(session, receiver, count, deadline)
                if first is None:
                    api = HooklineApi(session, api_process.url)
                    done_at = await _wait_for_success(api, backlog.setup, healthy, deadline)
                else:
                    path = SqliteFiles.path(database_url)
                    done_at = await wait_for_attempts(path, first, deadline)
                usage.stop()
                return received_at, done_at, await _count(session, receiver)

        received_at, done_at, received = run_loop(deliver)
        connections = receiver.connections()
        ready_at = min(worker.ready_at for worker in processes)
        return ThroughputResult(
            log_level=log_level,
            deliveries=count,
            endpoints=backlog.setup.lanes,
            seconds=done_at - ready_at,
            received_after=received_at - ready_at,
            worker_startup=max(worker.ready_at - worker.spawned_at for worker in processes),
            received=received,
            connections=connections,
            cpu_seconds=usage.worker_seconds,
            workers=workers,
            peak_rss_kib=usage.peak_rss_kib,
            server_cpu_seconds=usage.server_seconds,
            receiver_cpu_seconds=usage.receiver_seconds,
            machine_busy=usage.machine_busy,
            hung=receiver.hung() if backlog.hanging else 0,
        )
    except BenchError as error:
        raise BenchError(
            f"{error}\n--- end of the worker's log ---\n{processes[0].logs()}"
            f"\n--- end of the API's log ---\n{api_process.logs()}"
        ) from error
    finally:
        for worker in processes:
            worker.stop()
        for spy in profiler:
            _stop_profiler(spy)
        api_process.stop()
        backlog.databases.drop(database_url)


class _Usage:
    """What the processes of a run used between ``start()`` and ``stop()``: CPU by worker
    thread, the database server's CPU, the receiver's, the machine's, peak memory."""

    def __init__(self, databases: Databases, database_url: str, receiver_pid: int) -> None:
        self.databases = databases
        self.database_url = database_url
        self.receiver_pid = receiver_pid
        self.pids: list[int] = []
        self._before: dict[str, float] = {}
        self._server_before: dict[str, float] = {}
        self._receiver_before = 0.0
        self._machine_before = (0.0, 0.0)
        self.worker_seconds: dict[str, float] = {}
        self.server_seconds = 0.0
        self.receiver_seconds = 0.0
        self.machine_busy = 0.0
        self.peak_rss_kib = 0

    def _workers(self) -> dict[str, float]:
        usage: dict[str, float] = {}
        for number, pid in enumerate(self.pids, start=1):
            prefix = "" if number == 1 else f"worker {number}: "
            usage.update({prefix + k: v for k, v in thread_cpu_seconds(pid).items()})
        return usage

    def start(self, pids: list[int]) -> None:
        """Take the first readings (the workers are ready)."""
        self.pids = pids
        self._before = self._workers()
        self._server_before = self.databases.server_cpu_seconds(self.database_url)
        self._receiver_before = process_cpu_seconds(self.receiver_pid)
        self._machine_before = machine_cpu_seconds()

    def stop(self) -> None:
        """Take the second readings (the workers are still running) and the differences."""
        busy, total = machine_cpu_seconds()
        after = self._workers()
        self.worker_seconds = {
            name: round(used - self._before.get(name, 0.0), 2) for name, used in after.items()
        }
        server = self.databases.server_cpu_seconds(self.database_url)
        self.server_seconds = round(
            sum(used - self._server_before.get(name, 0.0) for name, used in server.items()), 2
        )
        self.receiver_seconds = round(
            process_cpu_seconds(self.receiver_pid) - self._receiver_before, 2
        )
        busy_before, total_before = self._machine_before
        if total > total_before:
            self.machine_busy = round((busy - busy_before) / (total - total_before), 3)
        self.peak_rss_kib = max(peak_rss_kib(pid) for pid in self.pids)


async def wait_for_attempts(path: Path, count: int, deadline: float) -> float:
    """Poll a SQLite file until it records ``count`` attempts; ``perf_counter()`` then.

    Every one must have succeeded: a failed attempt fails the run.
    """
    with contextlib.closing(sqlite3.connect(path, timeout=10.0)) as conn:
        while True:
            recorded = conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
            if recorded >= count:
                done_at = time.perf_counter()
                break
            if time.perf_counter() > deadline:
                raise BenchError(f"{recorded} of {count} attempts recorded in time")
            await asyncio.sleep(0.005)
        failed = conn.execute(
            "SELECT count(*) FROM attempts WHERE status != ?", (int(AttemptStatus.SUCCESS),)
        ).fetchone()[0]
    if failed:
        raise BenchError(f"{failed} attempts failed")
    return done_at


def _start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """``py-spy record`` process ``pid`` until it exits, into ``output``.

    The suffix picks the format: ``.svg`` a flame graph, ``.json`` speedscope,
    anything else py-spy's "raw" collapsed stacks (one ``frame;frame;... count``
    line per stack, first frame the thread, easy to sum by thread or by line).
    """
    spy = shutil.which("py-spy")
    if spy is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")
    formats = {".svg": "flamegraph", ".json": "speedscope"}
    command = [spy, "record", "--pid", str(pid), "--rate", "250", "--threads", "--nonblocking"]
    command += ["--format", formats.get(output.suffix, "raw"), "--output", str(output)]
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _stop_profiler(spy: subprocess.Popen[bytes]) -> None:
    """Wait for py-spy to write its file once the worker is gone (SIGINT if it lingers)."""
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(10)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)


@dataclass
class _Offered:
    """What one paced publishing run did."""

    started: dict[str, float] = field(default_factory=dict)  # msg id -> publish start (Unix)
    acks: list[float] = field(default_factory=list)  # seconds each publish took to answer
    sent_span: float = 0.0  # seconds from the first to the last publish start
    acked_span: float = 0.0  # seconds from the first publish start to the last answer


async def _offer(
    api: HooklineApi, setup: Setup, rate: float, seconds: float, first_seq: int
) -> _Offered:
    """Publish at ``rate``/s for ``seconds``, message ``i`` at ``origin + i / rate``."""
    total = max(1, round(rate * seconds))
    offered = _Offered()
    origin = time.perf_counter() + 0.05

    async def publish(seq: int) -> None:
        wall = time.time()
        begun = time.perf_counter()
        msg_id = await api.publish(setup, seq)
        answered = time.perf_counter()
        offered.acks.append(answered - begun)
        offered.acked_span = max(offered.acked_span, answered - origin)
        offered.started[msg_id] = wall

    tasks = []
    for index in range(total):
        delay = origin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(publish(first_seq + index)))
    offered.sent_span = time.perf_counter() - origin
    await asyncio.gather(*tasks)
    return offered


def measure_latency(
    rates: list[float],
    seconds: float,
    endpoints: int,
    workdir: Path,
    timeout: float,
    log_level: str = "WARNING",
    env: dict[str, str] | None = None,
) -> list[LatencyResult]:
    """Run ``hookline serve`` and measure publish-to-receipt latency at each offered rate."""
    tag = f"{log_level.lower()}-{time.monotonic_ns()}"
    database_url = f"sqlite:///{workdir / f'latency-{tag}.db'}"
    server = HooklineProcess(
        "serve",
        database_url,
        workdir / f"serve-{tag}.log",
        {**(env or {}), "HOOKLINE_LOG_LEVEL": log_level},
    )
    receiver = Receiver(record_arrivals=True)
    try:
        receiver.start()
        server.start()

        async def run() -> list[LatencyResult]:
            results = []
            async with client_session() as session:
                api = HooklineApi(session, server.url)
                setup = await api.setup(receiver.url, endpoints)
                warm_up = endpoints * 8  # opens a connection per endpoint, warms every path
                await api.publish_many(setup, warm_up)
                await wait_for_receipts(session, receiver, warm_up, time.perf_counter() + timeout)
                first_seq = 10**6
                for rate in rates:
                    await asyncio.sleep(0.5)
                    async with session.post(receiver.url + "/_reset") as response:
                        await response.read()
                    offered = await _offer(api, setup, rate, seconds, first_seq)
                    first_seq += len(offered.started)
                    await wait_for_receipts(
                        session, receiver, len(offered.started), time.perf_counter() + timeout
                    )
                    async with session.get(receiver.url + "/_arrivals") as response:
                        arrivals: dict[str, float] = await response.json()
                    results.append(_latency(rate, seconds, offered, arrivals))
            return results

        return run_loop(run)
    except BenchError as error:
        raise BenchError(f"{error}\n--- end of the server's log ---\n{server.logs()}") from error
    finally:
        server.stop()
        receiver.stop()


def _latency(
    rate: float, seconds: float, offered: _Offered, arrivals: dict[str, float]
) -> LatencyResult:
    started = offered.started
    delays = [(arrivals[m] - t) * 1000 for m, t in started.items() if m in arrivals]
    if not delays:
        raise BenchError(f"no message published at {rate}/s was received")
    ack_ms = [a * 1000 for a in offered.acks]
    count = len(started)
    return LatencyResult(
        rate=rate,
        seconds=seconds,
        published=count,
        received=len(delays),
        sent_rate=(count - 1) / offered.sent_span if offered.sent_span > 0 else float(count),
        acked_rate=count / offered.acked_span,
        p50_ms=percentile(delays, 0.50),
        p99_ms=percentile(delays, 0.99),
        max_ms=max(delays),
        ack_p50_ms=percentile(ack_ms, 0.50),
        ack_p99_ms=percentile(ack_ms, 0.99),
    )
