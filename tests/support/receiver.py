"""A real HTTP server on 127.0.0.1 that records every webhook it receives.

It runs on its own thread and event loop, so both sync and async tests can use
it. A test sets ``behaviour`` to decide each answer (status, delay, headers).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Answer:
    """How to answer one request."""

    status: int = 200
    body: str = "ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Behaviour = Callable[[Received, int], Answer]


def always_ok(request: Received, count: int) -> Answer:
    """Answer every request with 200."""
    return Answer()


class Receiver:
    """Start with ``start()``; ``url`` is where to point endpoints."""

    def __init__(
        self, behaviour: Behaviour = always_ok, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.behaviour = behaviour
        #: Serve https with this context (for example one that requires client certificates).
        self.ssl_context = ssl_context
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL of the receiver."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        seen = Received(request.path_qs, dict(request.headers), body, time.time())
        with self._lock:
            self.received.append(seen)
            count = len(self.received)
        answer = self.behaviour(seen, count)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)

    async def _start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> Receiver:
        """Start serving on a free port."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            # Connections a peer still held (a proxy's keep-alive upstream) finish closing
            # on the loop's next turns: let them, so none is left to the garbage collector.
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def snapshot(self) -> list[Received]:
        """The requests received so far."""
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least ``count`` requests have arrived; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.snapshot()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.snapshot())} in {timeout}s")
