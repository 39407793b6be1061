"""The fast receiver: a minimal asyncio-protocol HTTP/1.1 server in its own process.

It answers every request ``200 ok`` on a kept-alive connection, parsing only what
it must: the end of the header block, ``Content-Length`` and ``Connection``. It
counts webhook POSTs and, when asked to, records the arrival time of each
``webhook-id``. A request to a path under ``/hang/`` is never answered (an
endpoint that hangs until the sender's timeout): it is counted apart, and its
connection stays silent until the sender closes it. Control requests, never counted:

* ``GET /_count``    the number of webhook requests so far, as decimal text;
* ``GET /_connections`` the number of connections opened so far (this one included);
* ``GET /_hung``     the number of requests left hanging so far;
* ``GET /_arrivals`` ``{"<webhook-id>": <unix time of first arrival>, ...}`` as JSON;
* ``POST /_reset``   forget the counts and the arrivals.

No pipelining and no chunked bodies (a request without ``Content-Length`` is
taken to have none); the senders measured here never use either.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import socket
import time
import urllib.request
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import cast

import orjson

from bench.common import die_with_parent, run_loop

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_OK_CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)
_HEADER_END = b"\r\n\r\n"
_HANG = b"/hang/"
_MAX_HEAD = 64 * 1024


@dataclass
class Tally:
    """What the receiver has seen: the webhook count and, optionally, arrival times."""

    record_arrivals: bool
    count: int = 0
    connections: int = 0
    hung: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)


def _header(head: bytes, lowered: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (given lower-case), found case-insensitively, or None."""
    start = lowered.find(b"\r\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


def _response(status: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\n".encode()
        + b"Content-Type: "
        + content_type
        + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


class ReceiverProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection: read a request, answer it, repeat."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.head = b""  # the header block of the request being read
        self.lowered = b""  # the same, lower-cased, to find header names in
        self.need = -1  # bytes of that request (head + body), once its head is read
        self.hanging = False  # a request to a /hang/ path came: never answer again

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.tally.connections += 1

    def data_received(self, data: bytes) -> None:
        """Answer each complete request in the buffer."""
        if self.hanging:
            return
        buffer = self.buffer
        buffer += data
        while True:
            if self.need < 0 and not self._read_head():
                return
            if len(buffer) < self.need:
                return
            del buffer[: self.need]
            self.need = -1
            if not self._answer(self.head, self.lowered):
                return

    def _read_head(self) -> bool:
        """Take the header block off the buffer's front; False until it is all there."""
        assert self.transport is not None
        end = self.buffer.find(_HEADER_END)
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self.transport.close()
            return False
        self.head = bytes(self.buffer[:end])
        self.lowered = self.head.lower()
        length = _header(self.head, self.lowered, b"content-length")
        try:
            body = int(length) if length is not None else 0
        except ValueError:
            body = -1
        if body < 0:
            self.transport.write(_response("400 Bad Request", b"bad content-length\n"))
            self.transport.close()
            return False
        self.need = end + len(_HEADER_END) + body
        return True

    def _answer(self, head: bytes, lowered: bytes) -> bool:
        """Answer one request; False if the connection is now closing (or hanging)."""
        assert self.transport is not None
        method, _, rest = head[: head.find(b"\r\n")].partition(b" ")
        path = rest.partition(b" ")[0]
        keep_alive = (_header(head, lowered, b"connection") or b"").lower() != b"close"
        if path.startswith(_HANG):
            self.tally.hung += 1
            self.hanging = True
            return False
        if path.startswith(b"/_"):
            self.transport.write(self._control(method, path))
        else:
            tally = self.tally
            tally.count += 1
            if tally.record_arrivals:
                msg_id = _header(head, lowered, b"webhook-id")
                if msg_id is not None:
                    tally.arrivals.setdefault(msg_id.decode(), time.time())
            self.transport.write(_OK if keep_alive else _OK_CLOSE)
        if not keep_alive:
            self.transport.close()
        return keep_alive

    def _control(self, method: bytes, path: bytes) -> bytes:
        tally = self.tally
        if method == b"GET" and path == b"/_count":
            return _response("200 OK", str(tally.count).encode(), b"text/plain")
        if method == b"GET" and path == b"/_connections":
            return _response("200 OK", str(tally.connections).encode(), b"text/plain")
        if method == b"GET" and path == b"/_hung":
            return _response("200 OK", str(tally.hung).encode(), b"text/plain")
        if method == b"GET" and path == b"/_arrivals":
            return _response("200 OK", orjson.dumps(tally.arrivals))
        if method == b"POST" and path == b"/_reset":
            tally.count = 0
            tally.connections = 0
            tally.hung = 0
            tally.arrivals.clear()
            return _response("200 OK", b"{}")
        return _response("404 Not Found", b"{}")


async def serve(sock: socket.socket, record_arrivals: bool) -> None:
    """Serve on an already bound socket until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tally = Tally(record_arrivals)
    server = await loop.create_server(lambda: ReceiverProtocol(tally), sock=sock, backlog=4096)
    async with server:
        await stop.wait()


def _child(conn: Connection, record_arrivals: bool) -> None:
    die_with_parent()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    conn.send(sock.getsockname()[1])
    conn.close()
    run_loop(lambda: serve(sock, record_arrivals))


class Receiver:
    """A receiver process: ``start()`` it, point senders at ``url``, ``stop()`` it."""

    def __init__(self, record_arrivals: bool = False) -> None:
        self.record_arrivals = record_arrivals
        self.port = 0
        self._process: BaseProcess | None = None

    @property
    def url(self) -> str:
        """The base URL (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Receiver:
        """Start the process and wait for its port."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child, args=(child, self.record_arrivals), name="bench-receiver", daemon=True
        )
        self._process.start()
        child.close()
        if not parent.poll(timeout):
            self.stop()
            raise RuntimeError("the receiver did not start")
        self.port = int(parent.recv())
        parent.close()
        return self

    def _get(self, path: str, method: str = "GET", timeout: float = 10.0) -> bytes:
        # Always http://127.0.0.1:<port>: no other scheme can reach urlopen here.
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read()
        return body

    def count(self) -> int:
        """How many webhook requests arrived."""
        return int(self._get("/_count"))

    def connections(self) -> int:
        """How many connections were opened (a sender that keeps connections alive opens few)."""
        return int(self._get("/_connections"))

    def hung(self) -> int:
        """How many requests were left hanging (paths under ``/hang/``)."""
        return int(self._get("/_hung"))

    @property
    def pid(self) -> int:
        """The receiver's process id (for CPU accounting); 0 when it is not running."""
        return (self._process.pid or 0) if self._process is not None else 0

    def arrivals(self) -> dict[str, float]:
        """First arrival time (Unix seconds) of each ``webhook-id``."""
        data: dict[str, float] = orjson.loads(self._get("/_arrivals", timeout=30.0))
        return data

    def reset(self) -> None:
        """Forget the counts and the arrivals."""
        self._get("/_reset", method="POST")

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
        with contextlib.suppress(ValueError):
            process.close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
