"""The chaos receiver: a webhook endpoint that misbehaves at random and logs everything.

Run as its own process (``python -m chaos.receiver``), so killing hookline never
touches it. For each request a seeded RNG picks how to answer:

======== ===================================================================
kind     what the receiver does
======== ===================================================================
``ok``   200 at once
``slow`` 200, its body streamed in pieces over ``--slow-seconds`` (well inside
         hookline's request timeout)
``500``  500
``503``  503
``429``  429 with ``Retry-After: 1``
``hang`` nothing, until the client gives up (past hookline's request timeout)
``reset`` closes the connection without answering (a TCP RST, or a FIN)
======== ===================================================================

Every answer carries the request's sequence number (body ``{"seq": N}`` and header
``x-chaos-seq``), which hookline keeps in the attempt log, so attempts and requests
can be paired exactly. The log (``--log``) gets two JSON lines per request:
``seen`` (before answering, and fsync'd before the answer goes out: no answer
exists that the log does not know about) and ``done`` (after, saying whether the
answer was written out in full). Each line is appended with one ``write`` and the
file is fsync'd in groups.

The receiver also finds out which process sent each request (the owner of the
connection's client socket, read from ``/proc``), so the proofs can tell a
request that a killed worker never recorded from one a live worker forgot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

#: The kinds of answer, and their default weights (per cent). 429s are rare on purpose:
#: hookline answers each with a halved pace for the endpoint, recovering by 10% a
#: second, so a steady 1% of 429s would hold an endpoint near 14 requests a second.
DEFAULT_MIX: dict[str, float] = {
    "ok": 72.5,
    "slow": 8,
    "500": 5,
    "503": 3,
    "429": 0.5,
    "hang": 4,
    "reset": 7,
}
#: The status each kind answers with (``None``: no answer at all).
STATUS_OF: dict[str, int | None] = {
    "ok": 200,
    "slow": 200,
    "500": 500,
    "503": 503,
    "429": 429,
    "hang": None,
    "reset": None,
}
_STEP = 0.05


class LogWriter:
    """An append-only JSON-lines file, fsync'd in groups by a thread of its own.

    ``write`` appends at once (the line is in the kernel's hands, so it survives the
    receiver being killed); ``write_synced`` also waits until it is on disk.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []
        self._dirty = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._sync_loop, name="chaos-log", daemon=True)
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        """Append one line now; it reaches the disk with the next group."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            os.write(self._fd, line.encode())
        self._dirty.set()

    async def write_synced(self, record: dict[str, Any]) -> None:
        """Append one line and wait until it is fsync'd."""
        loop = asyncio.get_running_loop()
        synced = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: synced.done() or synced.set_result(None))

        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            os.write(self._fd, line.encode())
            self._pending.append(done)
        self._dirty.set()
        await synced

    def _sync_loop(self) -> None:
        while not self._closed:
            self._dirty.wait(0.5)
            self._dirty.clear()
            with self._lock:
                waiting, self._pending = self._pending, []
            os.fsync(self._fd)
            for done in waiting:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                    done()

    def close(self) -> None:
        """Sync what is left and close the file."""
        self._closed = True
        self._dirty.set()
        self._thread.join(5)
        os.fsync(self._fd)
        os.close(self._fd)


class SenderLookup:
    """Which process owns the client end of a loopback connection (Linux ``/proc``).

    Only children of ``parent`` (the harness, which starts every hookline process)
    are searched; the answer is ``None`` when the socket or its owner is gone.
    """

    def __init__(self, parent: int, proc: Path = Path("/proc")) -> None:
        self.parent = parent
        self.proc = proc
        self._children: set[int] = set()

    def pid_of(self, client_port: int, server_port: int) -> int | None:
        """The pid holding the socket 127.0.0.1:client_port -> 127.0.0.1:server_port."""
        inode = self._inode(client_port, server_port)
        if inode is None:
            return None
        wanted = f"socket:[{inode}]"
        for refresh in (False, True):
            if refresh or not self._children:
                self._children = self._scan_children()
            for pid in self._children:
                if self._holds(pid, wanted):
                    return pid
        return None

    def _inode(self, client_port: int, server_port: int) -> str | None:
        local = f"0100007F:{client_port:04X}"
        remote = f"0100007F:{server_port:04X}"
        try:
            lines = (self.proc / "net" / "tcp").read_text().splitlines()[1:]
        except OSError:
            return None
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[1] == local and fields[2] == remote and fields[9] != "0":
                return fields[9]
        return None

    def _scan_children(self) -> set[int]:
        children = set()
        for entry in self.proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 (ppid) comes after the command name, which may hold spaces.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.parent:
                children.add(int(entry.name))
        return children

    def _holds(self, pid: int, wanted: str) -> bool:
        fd_dir = self.proc / str(pid) / "fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return False
        for name in names:
            with contextlib.suppress(OSError):
                if os.readlink(fd_dir / name) == wanted:
                    return True
        return False


class ChaosReceiver:
    """The aiohttp application's handler and its state."""

    def __init__(
        self,
        log: LogWriter,
        rng: random.Random,
        mix: dict[str, float],
        hang_seconds: float,
        slow_seconds: float,
        senders: SenderLookup,
    ) -> None:
        self.log = log
        self.rng = rng
        self.kinds = list(mix)
        self.weights = [mix[k] for k in self.kinds]
        self.hang_seconds = hang_seconds
        self.slow_seconds = slow_seconds
        self.senders = senders
        self.port = 0
        self._seq = 0
        #: Sender pid by connection (its transport: forgotten with it, never confused
        #: with a later connection that reuses its memory or its port).
        self._pids: weakref.WeakKeyDictionary[asyncio.BaseTransport, int | None] = (
            weakref.WeakKeyDictionary()
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request the way the dice say, logging before and after."""
        arrived = time.time()
        self._seq += 1
        seq = self._seq
        kind = self.rng.choices(self.kinds, self.weights)[0]
        slow_for = self.rng.uniform(self.slow_seconds / 3, self.slow_seconds)
        reset_hard = self.rng.random() < 0.5
        peer = request.transport.get_extra_info("peername") if request.transport else None
        client_port = int(peer[1]) if peer else 0
        pid = await self._sender(request, client_port)
        seen: dict[str, Any] = {
            "e": "seen", "seq": seq, "id": request.headers.get("webhook-id", ""),
            "path": request.path, "pid": pid, "port": client_port, "at": arrived, "kind": kind,
        }  # fmt: skip
        try:
            body = await request.read()
            seen["n"] = _message_number(body)
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            seen["n"] = None
            seen["read_error"] = type(error).__name__
        await self.log.write_synced(seen)
        written, response = await self._answer(request, seq, kind, slow_for, reset_hard)
        self.log.write(
            {"e": "done", "seq": seq, "at": time.time(), "status": STATUS_OF[kind],
             "written": written}
        )  # fmt: skip
        return response

    async def _sender(self, request: web.Request, client_port: int) -> int | None:
        transport = request.transport
        if transport is None:
            return None
        if transport not in self._pids:
            pid = await asyncio.to_thread(self.senders.pid_of, client_port, self.port)
            self._pids[transport] = pid
            return pid
        return self._pids[transport]

    async def _answer(
        self, request: web.Request, seq: int, kind: str, slow_for: float, reset_hard: bool
    ) -> tuple[bool, web.StreamResponse]:
        """Give the answer; returns (written in full, the response for aiohttp)."""
        if kind == "hang":
            await self._hang(request)
            return False, web.Response()
        if kind == "reset":
            _reset(request, hard=reset_hard)
            return False, web.Response()
        status = STATUS_OF[kind]
        assert status is not None
        payload = json.dumps({"seq": seq, "kind": kind}).encode()
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.content_length = len(payload)
        response.headers["x-chaos-seq"] = str(seq)
        if kind == "429":
            response.headers["Retry-After"] = "1"
        try:
            await response.prepare(request)
            if kind == "slow":
                pieces = 4
                size = -(-len(payload) // pieces)
                for start in range(0, len(payload), size):
                    await asyncio.sleep(slow_for / pieces)
                    await response.write(payload[start : start + size])
            else:
                await response.write(payload)
            await response.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            return False, response
        return True, response

    async def _hang(self, request: web.Request) -> None:
        """Say nothing until the client hangs up (or, past ``hang_seconds``, hang up)."""
        deadline = time.monotonic() + self.hang_seconds
        while time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(_STEP)
        _reset(request, hard=True)


def _reset(request: web.Request, hard: bool) -> None:
    """Close the connection without an answer: an RST (``hard``) or a FIN."""
    transport = request.transport
    if transport is None:
        return
    if hard:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def _message_number(body: bytes) -> int | None:
    """The ``n`` field of a chaos payload (the harness's message number), if any."""
    try:
        value = json.loads(body).get("n")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


async def serve(args: argparse.Namespace) -> None:
    """Listen on 127.0.0.1 until SIGTERM; write the port to ``--port-file`` once ready."""
    log = LogWriter(args.log)
    mix = json.loads(args.mix) if args.mix else DEFAULT_MIX
    receiver = ChaosReceiver(
        log, random.Random(args.seed), mix, args.hang_seconds, args.slow_seconds,
        SenderLookup(os.getppid()),
    )  # fmt: skip
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=args.hang_seconds + 1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None
    receiver.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    temporary = args.port_file.with_suffix(".tmp")
    temporary.write_text(str(receiver.port))
    temporary.rename(args.port_file)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        log.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m chaos.receiver --log FILE --port-file FILE [--seed N] ...``."""
    parser = argparse.ArgumentParser(prog="python -m chaos.receiver")
    parser.add_argument("--log", type=Path, required=True, help="the append-only request log")
    parser.add_argument("--port-file", type=Path, required=True, help="gets the port once ready")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", default="", help='JSON weights by kind, e.g. {"ok": 90, ...}')
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("--slow-seconds", type=float, default=0.8)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:  # pragma: no cover - SIGINT before the handler is set
        sys.exit(130)


if __name__ == "__main__":
    main()
