"""The ceiling: a bare aiohttp loop, no storage, in its own process.

It sends ``count`` signed 1 KiB JSON POSTs to the receiver with hookline's
worker settings: one ``ClientSession``, ``TCPConnector(limit=0)``, ``concurrency``
requests in flight (512 by default, as ``HOOKLINE_WORKER_CONCURRENCY``), the
same headers hookline sends (``webhook-*`` and ``svix-*`` signed by
``hookline.domain.signing.headers``, content type, user agent), the same event
loop (uvloop) and the same response handling (read the body). Bodies and ids are
prepared before the clock starts, as hookline's are in its database; signing is
per request, as hookline's is per attempt.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp

from hookline.domain import ids, signing

from bench.common import SECRET, USER_AGENT, die_with_parent, payload_bytes, run_loop


@dataclass(frozen=True)
class CeilingResult:
    """What one ceiling run did."""

    sent: int
    errors: int
    seconds: float
    #: CPU seconds the sending process used while sending.
    cpu_seconds: float = 0.0
    #: Connections the receiver saw opened (filled in by the caller, who can ask it).
    connections: int = 0

    def cpu_us_per_request(self) -> float:
        """CPU time of the sender per request, in microseconds."""
        return self.cpu_seconds / self.sent * 1e6

    @property
    def per_second(self) -> float:
        """Successful requests per second."""
        return (self.sent - self.errors) / self.seconds


async def blast(
    url: str, count: int, concurrency: int, lanes: int, max_response_bytes: int = 20 * 1024
) -> CeilingResult:
    """Send ``count`` POSTs spread over ``lanes`` paths, ``concurrency`` at a time."""
    now = time.time()
    work = [
        (f"{url}/ep/{seq % lanes}", ids.new_id(ids.MESSAGE, now), payload_bytes(seq))
        for seq in range(count)
    ]
    errors = 0
    next_index = 0
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=15, connect=5)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        skip_auto_headers=("User-Agent",),
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:

        async def sender() -> None:
            nonlocal errors, next_index
            while next_index < count:
                target, msg_id, body = work[next_index]
                next_index += 1
                headers = {"content-type": "application/json", "user-agent": USER_AGENT}
                headers.update(
                    signing.headers(SECRET, msg_id, int(time.time()), body, svix_headers=True)
                )
                try:
                    async with session.post(
                        target, data=body, headers=headers, allow_redirects=False
                    ) as response:
                        await response.content.read(max_response_bytes)
                        if response.status != 200:
                            errors += 1
                except (TimeoutError, aiohttp.ClientError, OSError):
                    errors += 1

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(sender() for _ in range(min(concurrency, count))))
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    return CeilingResult(count, errors, seconds, round(cpu_seconds, 2))


def _child(conn: Connection, url: str, count: int, concurrency: int, lanes: int) -> None:
    die_with_parent()
    result = run_loop(lambda: blast(url, count, concurrency, lanes))
    conn.send(result)
    conn.close()


def measure_ceiling(
    url: str, count: int, concurrency: int, lanes: int, timeout: float
) -> CeilingResult:
    """Run :func:`blast` in a fresh process and return its result (within ``timeout`` s)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(child, url, count, concurrency, lanes), name="bench-ceiling"
    )
    process.daemon = True
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise TimeoutError(f"the ceiling run took longer than {timeout:.0f}s")
        result: CeilingResult = parent.recv()
        return result
    finally:
        parent.close()
        if process.is_alive():
            process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
        process.close()
