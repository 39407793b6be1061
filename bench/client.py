"""The load client shared by the request-rate figures, and the ceiling it is compared with.

:func:`send_all` sends prepared requests (body and headers made before the clock
starts) a fixed number at a time over one aiohttp session and times them;
:func:`minimal_app` serves the minimal ASGI app (``bench.minimal_asgi``: same
uvicorn, loop and parser as hookline, reads the body and answers 200) for as long
as its ``with`` block lasts. The same client against both gives the ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

#: A request as the client sends it: the body and its headers.
Request = tuple[bytes, dict[str, str]]


@dataclass(frozen=True)
class RequestRate:
    """One timed run of :func:`send_all`: requests answered 2xx per second."""

    what: str
    count: int
    seconds: float
    #: CPU seconds of the server process per request, in microseconds (0: not measured).
    cpu_us: float = 0.0

    @property
    def per_second(self) -> float:
        """Answered requests per second."""
        return self.count / self.seconds


async def send_all(url: str, requests: Sequence[Request], concurrency: int) -> float:
    """POST every request to ``url``, ``concurrency`` at a time; the seconds it took.

    Any answer other than 2xx fails the run.
    """
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(requests)
        failures: list[str] = []

        async def lane() -> None:
            for body, headers in queue:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    if not 200 <= response.status < 300:
                        failures.append(f"{response.status} {answer[:200]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return seconds


@contextlib.contextmanager
def minimal_app(workdir: Path, processes: int = 1) -> Iterator[str]:
    """Serve the minimal ASGI app (in ``processes`` processes sharing its port, as
    ``hookline api --processes N`` does); yield its base URL."""
    log = workdir / f"minimal-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.minimal_asgi", str(processes)], stdout=out, stderr=out
        )
    try:
        yield _wait_for_url(log, process)
    finally:
        process.terminate()
        process.wait(10)


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
