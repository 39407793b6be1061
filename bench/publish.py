"""The publish API: ``POST /api/v1/app/{app_id}/msg`` answered per second, against a ceiling.

hookline is ``hookline api`` on a fresh SQLite file (``synchronous=FULL``) holding
one application with ``endpoints`` endpoints, one lane each, so every publish
stores a message and one pending delivery; no worker runs. Each request is what
an SDK sends: JSON, a 1 KiB payload on one lane, the admin token, no idempotency
key and no query parameters (so it takes the API's publish fast path). The
ceiling is the minimal ASGI app (reads the body, answers 200). The same client
(:func:`bench.client.send_all`) sends both the same prepared requests,
``concurrency`` at a time.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from bench.api import HooklineApi, Setup
from bench.client import Request, RequestRate, minimal_app, send_all
from bench.common import run_loop
from bench.databases import SqliteFiles
from bench.delivery import client_session
from bench.processes import AUTH, HooklineProcess, tree_cpu_seconds
from bench.receiver import Receiver


def publish_requests(setup: Setup, count: int) -> list[Request]:
    """Messages ``0..count-1`` as :meth:`HooklineApi.publish` would send them."""
    headers = {**AUTH, "content-type": "application/json"}
    return [(orjson.dumps(HooklineApi.message(setup, seq)), headers) for seq in range(count)]


def _path(setup: Setup) -> str:
    return f"/api/v1/app/{setup.app_id}/msg"


def measure_ceiling(
    count: int, concurrency: int, endpoints: int, workdir: Path, processes: int = 1
) -> RequestRate:
    """The minimal ASGI app's rate (in ``processes`` processes) for the same requests (an
    application id of the same length in the path, the same bodies)."""
    setup = Setup("app_" + "0" * 27, ("",) * endpoints)
    requests = publish_requests(setup, count)
    with minimal_app(workdir, processes) as url:
        seconds = run_loop(lambda: send_all(url + _path(setup), requests, concurrency))
    return RequestRate("minimal ASGI", count, seconds)


def measure_hookline(
    receiver: Receiver,
    count: int,
    concurrency: int,
    endpoints: int,
    workdir: Path,
    env: dict[str, str],
) -> RequestRate:
    """``hookline api``'s publish rate, and its CPU (all threads, every API process) per
    publish."""
    databases = SqliteFiles(workdir)
    url = databases.create("publish")
    api_process = HooklineProcess("api", url, workdir / f"publish-{time.monotonic_ns()}.log", env)
    try:
        api_process.start()

        async def create() -> Setup:
            async with client_session() as session:
                return await HooklineApi(session, api_process.url).setup(receiver.url, endpoints)

        setup = run_loop(create)
        requests = publish_requests(setup, count)
        cpu_before = tree_cpu_seconds(api_process.pid)
        target = api_process.url + _path(setup)
        seconds = run_loop(lambda: send_all(target, requests, concurrency))
        cpu = tree_cpu_seconds(api_process.pid) - cpu_before
    finally:
        api_process.stop()
        databases.drop(url)
    return RequestRate("hookline publish", count, seconds, round(cpu / count * 1e6, 1))
