"""Inbound: verified, deduplicated, stored and acknowledged requests/s, against a ceiling.

The ceiling is a minimal ASGI app that only reads the body (``bench.minimal_asgi``,
same uvicorn, loop and parser). hookline is ``hookline api`` with one Standard
Webhooks source whose application has one endpoint (so every event is also
fanned out to a delivery; no worker runs). The same client sends both the same
N signed 1 KiB requests, each with its own event id, ``concurrency`` at a time;
signatures are made before the clock starts.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from hookline.domain import signing

from bench.api import HooklineApi
from bench.client import Request, RequestRate, minimal_app, send_all
from bench.common import SECRET, payload_bytes, run_loop
from bench.processes import HooklineProcess

#: What one inbound run measured (the name the table code knows it by).
InboundResult = RequestRate


def signed_requests(count: int) -> list[Request]:
    """``count`` bodies and Standard Webhooks headers, each with its own event id."""
    now = int(time.time())
    requests = []
    for seq in range(count):
        body = payload_bytes(seq)
        headers = signing.headers(SECRET, f"evt_{seq}", now, body, svix_headers=False)
        requests.append((body, {**headers, "content-type": "application/json"}))
    return requests


def measure_ceiling(
    count: int, concurrency: int, workdir: Path, processes: int = 1
) -> InboundResult:
    """The minimal ASGI app's rate (in ``processes`` processes)."""
    requests = signed_requests(count)
    with minimal_app(workdir, processes) as url:
        seconds = run_loop(lambda: send_all(url + "/in", requests, concurrency))
    return InboundResult("minimal ASGI", count, seconds)


def measure_hookline(
    count: int, concurrency: int, workdir: Path, env: dict[str, str]
) -> InboundResult:
    """hookline's gateway rate: verify, dedupe, store with fan-out, then answer
    (``HOOKLINE_API_PROCESSES`` in ``env`` runs several API processes)."""
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
        seconds = run_loop(lambda: send_all(ingest_url, requests, concurrency))
    finally:
        api_process.stop()
    return InboundResult("hookline inbound", count, seconds)
