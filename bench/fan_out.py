"""Fan-out: one event to many endpoints, received per second, against a ceiling.

A ``hookline api`` process creates one application whose ``endpoints``
endpoints all listen on one channel, at paths ``/ep/<i>`` of the same receiver;
that file is copied for each run. A run starts ``hookline serve`` on the copy (API
and worker in one process, so a publish wakes the worker at once), publishes one
message on another channel to warm the publish path up (no endpoint takes it),
then times one message on the endpoints' channel: how long the API took to answer,
how long until the receiver had every delivery, and until every attempt was
recorded. The ceiling is the bare aiohttp loop sending the same number of
requests, one per path.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.api import HooklineApi, Setup
from bench.common import BenchError, run_loop
from bench.databases import SqliteFiles
from bench.delivery import (
    client_session,
    wait_for_attempts,
    wait_for_receipts,
)
from bench.processes import HooklineProcess, peak_rss_kib, thread_cpu_seconds
from bench.receiver import Receiver

#: The channel every fan-out endpoint listens on, and one none of them does.
FAN_OUT_CHANNEL = "fan-out"
WARM_UP_CHANNEL = "warm-up"


@dataclass(frozen=True)
class FanOut:
    """A SQLite file with one application whose endpoints all listen on one channel."""

    url: str
    databases: SqliteFiles
    setup: Setup
    #: Endpoints created per second through the API (set-up, not judged).
    created_per_second: float


@dataclass(frozen=True)
class FanOutResult:
    """One event published to every endpoint of a :class:`FanOut`."""

    endpoints: int
    #: Seconds from the publish request to its answer.
    publish_seconds: float
    #: Seconds from the publish request until the receiver had every delivery.
    received_seconds: float
    #: Seconds from the publish request until every attempt was recorded.
    recorded_seconds: float
    #: CPU seconds the ``serve`` process used from the publish to the last record.
    cpu_seconds: float
    peak_rss_kib: int

    @property
    def per_second(self) -> float:
        """Deliveries received per second, counted from the publish request."""
        return self.endpoints / self.received_seconds


def prepare_fan_out(
    receiver: Receiver, endpoints: int, workdir: Path, env: dict[str, str]
) -> FanOut:
    """Create the application and its ``endpoints`` endpoints through a ``hookline api``."""
    databases = SqliteFiles(workdir)
    url = databases.create("fan-out")
    api_process = HooklineProcess("api", url, workdir / "fan-out-api.log", env)
    try:
        api_process.start()

        async def create() -> tuple[Setup, float]:
            async with client_session() as session:
                api = HooklineApi(session, api_process.url)
                started = time.perf_counter()
                setup = await api.setup(
                    receiver.url, endpoints, channel=FAN_OUT_CHANNEL, concurrency=32
                )
                return setup, endpoints / (time.perf_counter() - started)

        setup, rate = run_loop(create)
    finally:
        api_process.stop()
    return FanOut(url, databases, setup, rate)


def measure_fan_out(
    receiver: Receiver, fan_out: FanOut, workdir: Path, timeout: float, env: dict[str, str]
) -> FanOutResult:
    """Publish one event to every endpoint of a copy of ``fan_out`` through ``hookline serve``."""
    tag = time.monotonic_ns()
    url = fan_out.databases.clone(fan_out.url, f"fan-out-run-{tag}")
    server = HooklineProcess("serve", url, workdir / f"fan-out-serve-{tag}.log", env)
    endpoints = fan_out.setup.lanes
    try:
        server.start()

        async def run() -> FanOutResult:
            async with client_session() as session:
                api = HooklineApi(session, server.url)
                await api.publish(fan_out.setup, 0, WARM_UP_CHANNEL)
                await asyncio.sleep(0.2)
                receiver.reset()
                cpu_before = sum(thread_cpu_seconds(server.pid).values())
                started = time.perf_counter()
                await api.publish(fan_out.setup, 1, FAN_OUT_CHANNEL)
                answered = time.perf_counter()
                received = await wait_for_receipts(session, receiver, endpoints, started + timeout)
                path = SqliteFiles.path(url)
                recorded = await wait_for_attempts(path, endpoints, started + timeout)
                return FanOutResult(
                    endpoints=endpoints,
                    publish_seconds=answered - started,
                    received_seconds=received - started,
                    recorded_seconds=recorded - started,
                    cpu_seconds=round(sum(thread_cpu_seconds(server.pid).values()) - cpu_before, 2),
                    peak_rss_kib=peak_rss_kib(server.pid),
                )

        return run_loop(run)
    except BenchError as error:
        raise BenchError(f"{error}\n--- end of the server's log ---\n{server.logs()}") from error
    finally:
        server.stop()
        fan_out.databases.drop(url)
