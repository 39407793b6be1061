"""The HTTP server's limits: how long, how large and how many a client may hold.

hookline serves the API, the inbound gateway (``/in/...``) and the web faces
from one uvicorn server per process. uvicorn bounds the idle time of a kept-alive
connection (``timeout_keep_alive``) and nothing else a slow or hostile client
holds: a connection that sends half its headers, or announces a body and sends
part of it, stays open forever, and httptools parses headers of any size.
``server_config`` is uvicorn's configuration with ``GuardedProtocol``, uvicorn's
own httptools protocol with what is missing added:

- a header deadline (``header_timeout``, from the connection's start or a kept-alive
  request's first byte) and a body deadline (``body_timeout``, from the end of the
  headers to the end of the body): past it, 408 and the connection is closed
  (closed without a word if the client never sent a byte);
- a cap on the request line and headers (``max_header_bytes``): 431, counted as the
  bytes arrive, so a header that never ends cannot fill memory either;
- caps on open connections, in all and per client address: a connection over
  either is answered 503 and closed at once;
- a cap on the requests of one connection (its last answer says ``connection: close``).

The deadlines cost a request a few attribute sets: one sweeper per server runs
every ``tick`` seconds over the open connections and ends those past their
deadline, rather than a timer per request (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hookline.settings import Settings

#: Bounds of the sweeper's period: often enough for small test timeouts, rarely for
#: large ones (it walks every open connection).
_SHORTEST_TICK = 0.05
_LONGEST_TICK = 1.0
#: Bytes of a parsed header line beyond its name and value (": " and CRLF).
_LINE_OVERHEAD = 4


@dataclass(frozen=True)
class ServerLimits:
    """What one client may hold of a server (see ``hookline.settings`` for each)."""

    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_connections: int
    max_connections_per_address: int
    keep_alive_timeout: float
    max_requests_per_connection: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        """The limits the settings give."""
        return cls(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_header_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
            max_connections_per_address=settings.max_connections_per_address,
            keep_alive_timeout=settings.keep_alive_timeout,
            max_requests_per_connection=settings.max_requests_per_connection,
        )

    @property
    def tick(self) -> float:
        """How often the sweeper looks for connections past their deadline."""
        shortest = min(self.header_timeout, self.body_timeout) / 4
        return max(_SHORTEST_TICK, min(_LONGEST_TICK, shortest))


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` under the settings' limits (``options``:
    uvicorn's own, such as ``timeout_graceful_shutdown``)."""
    # Forwarding headers are believed only from the proxies the operator names: uvicorn's
    # default (trust 127.0.0.1) would let any local client pick its own address.
    proxies = settings.trusted_proxy_list
    return uvicorn.Config(
        app, http=guarded_protocol(ServerLimits.from_settings(settings)), ws="none",
        log_config=None, lifespan="off", access_log=False,
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None, **options,
    )  # fmt: skip


def guarded_protocol(limits: ServerLimits) -> type[GuardedProtocol]:
    """A protocol class for one server: its connections share one ``ConnectionGuard``."""

    class ServerProtocol(GuardedProtocol):
        guard = ConnectionGuard(limits)

    return ServerProtocol


def _answer(status: int, reason: str, code: str, detail: str, extra: bytes = b"") -> bytes:
    """A complete response that closes the connection, in the API's error shape."""
    body = orjson.dumps({"code": code, "detail": detail})
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n%s\r\n"
    )
    return head % (status, reason.encode(), len(body), extra) + body


class ConnectionGuard:
    """One server's open connections: counted in all and per address, and swept for
    those past their deadline."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.connections: set[GuardedProtocol] = set()
        self.per_address: dict[str, int] = {}
        self.sweeper: asyncio.TimerHandle | None = None
        self.too_many = _answer(
            503, "Service Unavailable", "too_many_connections",
            "too many open connections; retry later", b"retry-after: 1\r\n",
        )  # fmt: skip
        self.timed_out = _answer(
            408, "Request Timeout", "request_timeout", "the request was not received in time"
        )
        too_large = f"the request line and headers are larger than {limits.max_header_bytes} bytes"
        self.too_large = _answer(
            431, "Request Header Fields Too Large", "headers_too_large", too_large
        )
        self.too_large_body = orjson.dumps({"code": "headers_too_large", "detail": too_large})

    def admit(self, connection: GuardedProtocol, address: str) -> bool:
        """Count ``connection`` in, or False if a cap is reached."""
        cap = self.limits.max_connections_per_address
        count = self.per_address.get(address, 0)
        if len(self.connections) >= self.limits.max_connections or (cap and count >= cap):
            return False
        self.per_address[address] = count + 1
        self.connections.add(connection)
        if self.sweeper is None:
            self.sweeper = connection.loop.call_later(self.limits.tick, self.sweep, connection.loop)
        return True

    def release(self, connection: GuardedProtocol, address: str) -> None:
        """Count ``connection`` out (it is closed)."""
        self.connections.discard(connection)
        count = self.per_address.pop(address, 1) - 1
        if count > 0:
            self.per_address[address] = count

    async def headers_too_large(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI answer to a request whose headers, read whole, are over the cap."""
        await send(
            {
                "type": "http.response.start",
                "status": 431,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(self.too_large_body)),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.too_large_body})

    def sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """End the connections past their deadline; run again while any is open."""
        now = loop.time()
        for connection in [c for c in self.connections if c.deadline <= now]:
            connection.expire(now)
        self.sweeper = (
            loop.call_later(self.limits.tick, self.sweep, loop) if self.connections else None
        )


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a header cap and connection caps.

    Per request it only sets a few attributes; ``ConnectionGuard.sweep`` acts on them.
    """

    guard: ClassVar[ConnectionGuard]
    #: Loop time by which the current phase (headers, or body) must end; inf: none runs.
    deadline = math.inf
    #: Whether the next bytes are a request line and headers (False: a body).
    reading_headers = True
    #: Header bytes of the current request, from chunks that held nothing else.
    header_bytes = 0
    #: Size of the chunk being parsed.
    chunk_bytes = 0
    #: Requests whose headers this connection has read.
    requests = 0
    #: Whether the deadline is an idle connection's (the keep-alive timeout's).
    idle = False
    #: The client address counted for this connection (None: not counted).
    address: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        if not self.guard.admit(self, address):
            self.transport.write(self.guard.too_many)
            self.transport.close()
            return
        self.address = address
        self.timeout_keep_alive = self.guard.limits.keep_alive_timeout  # type: ignore[assignment]
        self.deadline = self.loop.time() + self.guard.limits.header_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.address is not None:
            self.guard.release(self, self.address)
            self.address = None

    def data_received(self, data: bytes) -> None:
        self.chunk_bytes = len(data)
        if not self.reading_headers:
            super().data_received(data)
            return
        requests = self.requests
        super().data_received(data)
        if self.requests == requests:  # no headers ended in this chunk: it was all headers
            self.header_bytes += len(data)
            if (
                self.header_bytes > self.guard.limits.max_header_bytes
                and not self.transport.is_closing()
            ):
                self.transport.write(self.guard.too_large)
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline == math.inf or self.idle:  # a kept-alive connection's next request
            self.deadline = self.loop.time() + self.guard.limits.header_timeout
            self.idle = False

    def on_headers_complete(self) -> None:
        limits = self.guard.limits
        self.requests += 1
        # Only a chunk larger than the cap can have hidden oversized headers from the
        # count in data_received: then (rarely) they are measured as parsed.
        oversized = (
            self.header_bytes + self.chunk_bytes > limits.max_header_bytes
            and self._parsed_header_bytes() > limits.max_header_bytes
        )
        self.header_bytes = 0
        self.reading_headers = False
        self.deadline = self.loop.time() + limits.body_timeout
        if oversized:
            app, self.app = self.app, self.guard.headers_too_large
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        else:
            super().on_headers_complete()
        if self.requests == limits.max_requests_per_connection:
            self.cycle.keep_alive = False  # this answer says "connection: close"

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_headers = True
        if self.cycle.response_complete:
            # Answered before its body ended (a 401 to a POST, say): uvicorn armed its
            # keep-alive timer at the answer, and the body's bytes cancelled it.
            self.deadline = self.loop.time() + self.guard.limits.keep_alive_timeout
            self.idle = True
        else:
            self.deadline = math.inf  # the application's turn; then the keep-alive timeout's

    def _parsed_header_bytes(self) -> int:
        lines = sum(len(name) + len(value) + _LINE_OVERHEAD for name, value in self.headers)
        return len(self.url) + lines

    def expire(self, now: float) -> None:
        """The deadline passed: 408 and close, unless the delay is the server's own."""
        limits = self.guard.limits
        cycle = self.cycle
        if self.transport.is_closing():
            return
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # hookline is not reading yet (a large body waits for the application, a
            # pipelined request for the one before): the client is not late.
            self.deadline = now + (
                limits.header_timeout if self.reading_headers else limits.body_timeout
            )
            return
        if self.reading_headers:
            if cycle is not None and not cycle.response_complete:
                return  # the answer to the request before is still being written
            if self.header_bytes:  # silent: a connection that never sent a byte
                self.transport.write(self.guard.timed_out)
        elif cycle is not None and not cycle.response_started:
            cycle.disconnected = True  # the application's answer, if any, goes nowhere
            self.transport.write(self.guard.timed_out)
        self.transport.close()
