"""Inbound: verified, deduplicated, stored and acknowledged requests/s, against a ceiling.

The ceiling is a minimal ASGI app that only reads the body (``bench.minimal_asgi``,
same uvicorn, loop and parser). hookline is ``hookline api`` with one Standard
Webhooks source whose application has one endpoint (so every event is also
fanned out to a delivery; no worker runs). The same client sends both the same
N signed 1 KiB requests, each with its own event id, ``concurrency`` at a time;
signatures are made before the clock starts.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from hookline.domain import signing

from bench.api import HooklineApi
from bench.common import SECRET, payload_bytes, run_loop
from bench.processes import HooklineProcess


@dataclass(frozen=True)
class InboundResult:
    """One timed run: requests answered 2xx per second."""

    what: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Acknowledged requests per second."""
        return self.count / self.seconds


def signed_requests(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` bodies and Standard Webhooks headers, each with its own event id."""
    now = int(time.time())
    requests = []
    for seq in range(count):
        body = payload_bytes(seq)
        headers = signing.headers(SECRET, f"evt_{seq}", now, body, svix_headers=False)
        requests.append((body, {**headers, "content-type": "application/json"}))
    return requests


async def _send_all(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> float:
    """Send every request ``concurrency`` at a time; seconds taken (any non-2xx fails the run)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(requests)
        failures: list[str] = []

        async def lane() -> None:
            for body, headers in queue:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures.append(f"{response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return seconds


def measure_ceiling(count: int, concurrency: int, workdir: Path) -> InboundResult:
    """The minimal ASGI app's rate."""
    log = workdir / f"minimal-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.minimal_asgi"], stdout=out, stderr=out
        )
    try:
        url = _wait_for_url(log, process)
        requests = signed_requests(count)
        seconds = run_loop(lambda: _send_all(url + "/in", requests, concurrency))
    finally:
        process.terminate()
        process.wait(10)
    return InboundResult("minimal ASGI", count, seconds)


def measure_hookline(
    count: int, concurrency: int, workdir: Path, env: dict[str, str]
) -> InboundResult:
    """hookline's gateway rate: verify, dedupe, store with fan-out, then answer."""
    tag = time.monotonic_ns()
    database = workdir / f"inbound-{tag}.db"
    api_process = HooklineProcess("api", f"sqlite:///{database}", workdir / f"in-{tag}.log", env)
    api_process.start()
    try:

        async def create_source() -> str:
            async with aiohttp.ClientSession() as session:
                api = HooklineApi(session, api_process.url)
                return await api.inbound_source("https://example.com/forward", SECRET)

        ingest_url = run_loop(create_source)
        requests = signed_requests(count)
        seconds = run_loop(lambda: _send_all(ingest_url, requests, concurrency))
    finally:
        api_process.stop()
    return InboundResult("hookline inbound", count, seconds)


def _wait_for_url(log: Path, process: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    marker = "hookline listening on "
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if marker in text:
            return text.split(marker, 1)[1].split()[0]
        if process.poll() is not None:
            raise RuntimeError(f"minimal ASGI app exited early:\n{text}")
        time.sleep(0.01)
    raise RuntimeError("minimal ASGI app did not start")
