"""The two hookline measurements: durable delivery throughput, and latency under load.

Throughput: publish first, then start the worker. A ``hookline api`` process on a fresh
SQLite file creates the application and endpoints and takes ``count`` messages,
each routed (by channel) to exactly one endpoint, so ``count`` messages make
``count`` deliveries; no worker runs, so nothing is sent. That file is the
backlog: each run works on a copy of it (publishing is slow next to delivering
and is not what is measured). For a run, a ``hookline api`` process (to answer
the stats route) and then a ``hookline worker`` process start on the copy; the
clock runs from the worker's readiness line (interpreter start-up, ~1 s, is
left out and reported apart as ``worker_startup``) until the receiver has counted
``count`` requests *and* the stats route reports ``success`` for every delivery
(recorded in storage, i.e. durable). The receiver is polled over its control
path until it has them all, and only then the stats of endpoints not yet
complete, so the API process is idle while the worker runs.

Latency. One ``hookline serve`` process (API and worker together, the default
deployment) takes messages at a fixed offered rate, paced on a schedule (message
``i`` is sent at ``start + i / rate`` whatever the answers do); each message's
publish start time is kept by its id, the receiver stamps the first arrival of
each ``webhook-id``, and the difference is publish-to-receipt latency.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.api import HooklineApi, Setup, lane
from bench.common import percentile, run_loop
from bench.processes import HooklineProcess, thread_cpu_seconds
from bench.receiver import Receiver


class BenchError(RuntimeError):
    """A measurement could not complete (timeout, failed deliveries...)."""


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
    #: CPU seconds each thread of the worker used between readiness and the end.
    cpu_seconds: dict[str, float]

    def cpu_us_per_delivery(self) -> float:
        """CPU time of the whole worker process per delivery, in microseconds."""
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


def _session() -> aiohttp.ClientSession:
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


async def _wait_for_receipts(
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
    """A SQLite file holding ``count`` published, not yet delivered messages."""

    path: Path
    setup: Setup
    count: int
    publish_per_second: float

    def expected(self) -> dict[str, int]:
        """How many deliveries each endpoint gets."""
        per_lane = Counter(lane(seq, self.setup.lanes) for seq in range(self.count))
        return {
            endpoint_id: per_lane[lane(index, self.setup.lanes)]
            for index, endpoint_id in enumerate(self.setup.endpoint_ids)
        }

    def copy_to(self, path: Path) -> Path:
        """A copy of the file (and its write-ahead log) for one run to consume."""
        for suffix in ("", "-wal"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{path}{suffix}")
        return path


def publish_backlog(
    receiver: Receiver, count: int, endpoints: int, workdir: Path, env: dict[str, str] | None
) -> Backlog:
    """Publish ``count`` messages through a ``hookline api`` process (no worker running)."""
    path = workdir / "backlog.db"
    api_process = HooklineProcess("api", f"sqlite:///{path}", workdir / "backlog-api.log", env)
    try:
        api_process.start()

        async def publish() -> tuple[Setup, float]:
            async with _session() as session:
                api = HooklineApi(session, api_process.url)
                setup = await api.setup(receiver.url, endpoints)
                started = time.perf_counter()
                await api.publish_many(setup, count)
                return setup, count / (time.perf_counter() - started)

        setup, rate = run_loop(publish)
    finally:
        api_process.stop()
    return Backlog(path, setup, count, rate)


def measure_hookline(
    receiver: Receiver,
    backlog: Backlog,
    log_level: str,
    workdir: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    profile: Path | None = None,
) -> ThroughputResult:
    """Time a ``hookline worker`` delivering a copy of ``backlog`` until all are recorded.

    With ``profile``, py-spy samples the worker (threads included) into that
    file as a flame graph; the run is slower then, so its figure is not a result.
    """
    tag = f"{log_level.lower()}-{time.monotonic_ns()}"
    database_url = f"sqlite:///{backlog.copy_to(workdir / f'run-{tag}.db')}"
    api_process = HooklineProcess("api", database_url, workdir / f"api-{tag}.log", env)
    worker = HooklineProcess(
        "worker",
        database_url,
        workdir / f"worker-{tag}.log",
        {**(env or {}), "HOOKLINE_LOG_LEVEL": log_level},
    )
    count = backlog.count
    profiler: list[subprocess.Popen[bytes]] = []
    cpu_before: dict[str, float] = {}
    cpu_after: dict[str, float] = {}
    try:
        api_process.start()
        receiver.reset()

        async def deliver() -> tuple[float, float, int]:
            async with _session() as session:
                api = HooklineApi(session, api_process.url)
                worker.start()
                cpu_before.update(thread_cpu_seconds(worker.pid))
                if profile is not None:
                    profiler.append(_start_profiler(worker.pid, profile))
                deadline = worker.ready_at + timeout
                received_at = await _wait_for_receipts(session, receiver, count, deadline)
                done_at = await _wait_for_success(api, backlog.setup, backlog.expected(), deadline)
                cpu_after.update(thread_cpu_seconds(worker.pid))
                return received_at, done_at, await _count(session, receiver)

        received_at, done_at, received = run_loop(deliver)
        connections = receiver.connections()
        return ThroughputResult(
            log_level=log_level,
            deliveries=count,
            endpoints=backlog.setup.lanes,
            seconds=done_at - worker.ready_at,
            received_after=received_at - worker.ready_at,
            worker_startup=worker.ready_at - worker.spawned_at,
            received=received,
            connections=connections,
            cpu_seconds={
                name: round(used - cpu_before.get(name, 0.0), 2) for name, used in cpu_after.items()
            },
        )
    except BenchError as error:
        raise BenchError(
            f"{error}\n--- end of the worker's log ---\n{worker.logs()}"
            f"\n--- end of the API's log ---\n{api_process.logs()}"
        ) from error
    finally:
        worker.stop()
        for spy in profiler:
            _stop_profiler(spy)
        api_process.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database_url.removeprefix('sqlite:///')}{suffix}").unlink(missing_ok=True)


def _start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """``py-spy record`` process ``pid`` until it exits, into ``output``.

    The suffix picks the format: ``.svg`` a flame graph, ``.json`` speedscope,
    anything else py-spy's "raw" collapsed stacks (one ``frame;frame;... count``
    line per stack, which :mod:`bench.profile` summarises).
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
            async with _session() as session:
                api = HooklineApi(session, server.url)
                setup = await api.setup(receiver.url, endpoints)
                warm_up = endpoints * 8  # opens a connection per endpoint, warms every path
                await api.publish_many(setup, warm_up)
                await _wait_for_receipts(session, receiver, warm_up, time.perf_counter() + timeout)
                first_seq = 10**6
                for rate in rates:
                    await asyncio.sleep(0.5)
                    async with session.post(receiver.url + "/_reset") as response:
                        await response.read()
                    offered = await _offer(api, setup, rate, seconds, first_seq)
                    first_seq += len(offered.started)
                    await _wait_for_receipts(
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
