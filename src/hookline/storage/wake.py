"""Wake-ups across the processes on one SQLite file: a datagram per commit that queued work.

SQLite has nothing like PostgreSQL's ``LISTEN/NOTIFY``: a publish committed by an
API process is not seen by the delivery process until that one looks. Rather than
poll (``PRAGMA data_version`` every few milliseconds: docs/performance.md measured
both), the writer that commits new work sends one empty datagram to a Unix socket in
Linux's abstract namespace named after the database file, and a worker listening
there wakes at once (about 0.1 ms later). The abstract namespace has no files to
leave behind: a listener's name is gone when its process is, however it ends.

- Up to ``SLOTS`` listeners per database (one per worker process on the file): each
  binds the first free slot, and a sender sends to every slot but its own. A slot
  nobody listens on refuses at once; a full queue drops the datagram (a wake is
  already waiting there).
- A datagram carries nothing but its sender: one from another user is ignored (any
  local user can reach an abstract name), so only the database's own processes wake
  a worker. A wake-up can only make a worker look for work sooner, never change what
  it finds: a lost one costs at most ``HOOKLINE_POLL_INTERVAL``.
- Linux only (the abstract namespace), and per network namespace: processes in
  different containers sharing one file fall back to the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import struct
import sys
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Listeners (worker processes) one database can have.
SLOTS = 4
#: SCM_CREDENTIALS: the sender's pid, uid and gid, as the kernel vouches for them.
_CREDENTIALS = struct.Struct("iII")
_ANCILLARY = socket.CMSG_SPACE(_CREDENTIALS.size) if hasattr(socket, "CMSG_SPACE") else 0


def supported(path: str) -> bool:
    """Whether wake-ups can cross processes for the database at ``path``."""
    return sys.platform.startswith("linux") and path not in ("", ":memory:")


def address(path: str, slot: int) -> bytes:
    """The abstract socket name of ``slot`` for the database file at ``path``."""
    digest = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:32]
    return f"\0hookline-wake-{digest}-{slot}".encode()


class WakeSender:
    """Sends a wake-up to every worker listening on the database (from the writer thread)."""

    def __init__(self, path: str) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._addresses = [address(path, slot) for slot in range(SLOTS)]
        #: This process's own listener, woken in-process instead.
        self.own: bytes | None = None

    def send(self) -> None:
        """One datagram to each slot but this process's own; never blocks, never fails."""
        for target in self._addresses:
            if target == self.own:
                continue
            # Nobody there (refused), or a full queue (a wake-up already waits): both fine.
            with contextlib.suppress(OSError):
                self._sock.sendto(b"", target)

    def close(self) -> None:
        """Release the socket."""
        self._sock.close()


class WakeListener:
    """A worker's end: calls ``on_wake`` in ``loop`` for each burst of datagrams."""

    def __init__(
        self, path: str, loop: asyncio.AbstractEventLoop, on_wake: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._on_wake = on_wake
        self._uid = os.getuid()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        #: The bound name, or None when every slot was taken (then: the poll interval).
        self.address: bytes | None = None
        for slot in range(SLOTS):
            try:
                self._sock.bind(address(path, slot))
            except OSError:
                continue  # another worker's slot
            self.address = address(path, slot)
            break
        if self.address is None:
            logger.warning(
                "no wake-up slot free for this database: this worker looks for new work"
                " every HOOKLINE_POLL_INTERVAL",
                extra={"slots": SLOTS},
            )
            self._sock.close()
            return
        loop.add_reader(self._sock.fileno(), self._drain)

    def _drain(self) -> None:
        """Read every waiting datagram; wake once if any came from this user (or root)."""
        wake = False
        while True:
            try:
                _, ancillary, _, _ = self._sock.recvmsg(1, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return
            wake = wake or self._trusted(ancillary)
        if wake:
            self._on_wake()

    def _trusted(self, ancillary: list[tuple[int, int, bytes]]) -> bool:
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                _, uid, _ = _CREDENTIALS.unpack(data[: _CREDENTIALS.size])
                return uid in (self._uid, 0)
        return False

    def close(self) -> None:
        """Stop listening and free the slot."""
        if self.address is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self.address = None
