"""Several processes on one port: ``hookline serve`` (and ``hookline api --processes N``).

One hookline process runs its event loop and its storage writer under one GIL,
so it uses about one CPU however many the machine has (docs/performance.md).
Here a parent migrates the database and creates the first admin token once,
holds the port (bound, not listening), then spawns the children: N that each run
the API (``runtime.run``) on their own socket bound to that port with
``SO_REUSEPORT`` (the kernel spreads new connections evenly between them; one
shared socket would let whichever child woke first take a burst of connections,
which measured no faster than one process), and with ``serve`` one more, the
delivery process, which runs the workers, jobs and retention and no HTTP server,
so delivery has a GIL of its own (docs/decisions.md, "serve's processes"). On
SQLite a publish committed by an API process wakes it at once (storage/wake.py).

- Counters and histograms are shared through prometheus_client's multiprocess
  mode (a directory of this parent's, set before the children import it), so
  ``/metrics`` from any API child counts all of them, deliveries included.
- A child that dies after it was ready is started again; one that dies before
  it was ready stops the group, since it would only die again.
- SIGTERM or SIGINT to the parent reaches every child, which shuts down as a
  single process does (SIGKILL after the grace and ``STOP_MARGIN``).
- Children die with the parent however it ends, ``kill -9`` included, even one
  spawned as it died: Linux sends them SIGTERM (``PR_SET_PDEATHSIG``; a child
  whose parent died before it asked sees another parent in ``getppid`` and
  exits), and each watches its link to the parent, whose end closes when the
  parent dies: then it stops as on SIGTERM, and a kernel alarm ends it if it is
  still there after the grace and the margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the children import only what they run: runtime in an API child
    from hookline.settings import Settings

logger = logging.getLogger(__name__)

#: How long a child may take to start listening.
START_TIMEOUT = 60.0
#: Seconds past the shutdown grace after which a stopping child is killed.
STOP_MARGIN = 10.0
#: What a child sends its parent once it listens.
_READY = b"ready"
#: prometheus_client's switch to its multiprocess mode (read when it is imported).
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_PR_SET_PDEATHSIG = 1


def default_api_processes() -> int:
    """``serve``'s API processes when none are asked for: one per CPU this process may
    use, but one left to the delivery process (at least one)."""
    return max(1, _usable_cpus() - 1)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # a taskset or cpuset narrows it
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run(
    settings: Settings,
    *,
    api_processes: int,
    delivery: bool,
    on_ready: Callable[[str], None],
    on_first_token: Callable[[str], None],
    handlers_spec: str | None = None,
) -> int:
    """Run ``api_processes`` API processes, and with ``delivery`` one delivery process
    (loading the Python handlers ``handlers_spec`` names), until a signal; the exit code."""
    from hookline import runtime

    first = asyncio.run(runtime.prepare(settings))
    if first is not None:
        on_first_token(first)
    try:
        sock = _hold_port(settings.host, settings.port)
    except OSError as error:
        logger.error("cannot start", extra={"error": str(error)})
        return 1
    host, port = sock.getsockname()[:2]
    metrics_dir = tempfile.mkdtemp(prefix="hookline-metrics-")
    # The children inherit it and find it set when they first import prometheus_client,
    # which happens while they load, before any code of theirs runs.
    os.environ[METRICS_DIR_VARIABLE] = metrics_dir
    # Each API process knows how many share the port (a source's rate limit is split so).
    api_settings = settings.model_copy(update={"port": port, "api_processes": api_processes})
    # The API processes serve /metrics for it: it opens no port of its own.
    delivery_settings = settings.model_copy(update={"metrics_port": 0})

    def arguments(index: int) -> tuple[Any, ...]:
        if index < api_processes:
            return (api_settings, True, False, None)
        return (delivery_settings, False, True, handlers_spec)

    group = Group(
        api_processes + (1 if delivery else 0), _part, arguments, settings.shutdown_grace,
        label=lambda index: "API" if index < api_processes else "delivery",
    )  # fmt: skip
    try:
        return supervise(group, lambda: on_ready(f"http://{host}:{port}"))
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def supervise(group: Group, on_ready: Callable[[], None]) -> int:
    """Start ``group``, call ``on_ready``, keep it whole until SIGTERM or SIGINT, stop it;
    the exit code (0: stopped by a signal)."""
    stop = _stop_on_signals()
    try:
        if not group.start(stop):
            return 0 if stop.is_set() else 1
        on_ready()
        return group.watch(stop)
    finally:
        group.stop(group.grace + STOP_MARGIN)


def _hold_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to the port the children will share.

    First a plain bind, which fails if anything listens there already, as one
    process's bind does: ``SO_REUSEPORT`` alone would let a second group (of the
    same user) share the port without a word. Then the port is held with
    ``SO_REUSEPORT`` for as long as the group runs, so port 0 resolves once and no
    other program takes the port while a child is being replaced.
    """
    from hookline import runtime

    probe = runtime.bind_socket(host, port, listen=False)
    port = probe.getsockname()[1]
    probe.close()
    return runtime.bind_socket(host, port, reuse_port=True, listen=False)


class Group:
    """The children, by index; started, watched, replaced and stopped together.

    Each child runs ``target(*arguments(index), on_ready=...)`` under ``_child``. The
    parent learns that a child is ready, and a child that its parent is gone, through
    one socket pair per child (``_Child.link``): never through a lock or an event a
    dead parent could leave held (a ``multiprocessing.Event`` did: docs/decisions.md).
    """

    def __init__(
        self,
        count: int,
        target: Callable[..., None],
        arguments: Callable[[int], tuple[Any, ...]],
        grace: float,
        label: Callable[[int], str] = lambda index: "API",
    ) -> None:
        self.count = count
        self.target = target
        self.arguments = arguments
        self.grace = grace
        #: What child ``index`` is, in its process name and the log lines about it.
        self.label = label
        self.context = multiprocessing.get_context("spawn")
        self.children: list[_Child] = []

    def _spawn(self, index: int) -> _Child:
        link, child_end = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_child,
            args=(child_end, os.getpid(), self.grace, self.target, self.arguments(index)),
            name=f"hookline-{self.label(index).lower()}-{index}",
        )
        try:
            process.start()
        finally:
            child_end.close()  # the child has its own copy; the parent keeps only its end
        logger.info(
            f"{self.label(index)} process started", extra={"index": index, "pid": process.pid}
        )
        return _Child(process, link)

    def start(self, stop: threading.Event) -> bool:
        """Spawn every child and wait until each listens (False: one could not start)."""
        for index in range(self.count):
            self.children.append(self._spawn(index))
        return all(self._wait_ready(index, stop) for index in range(self.count))

    def _wait_ready(self, index: int, stop: threading.Event) -> bool:
        child = self.children[index]
        deadline = time.monotonic() + START_TIMEOUT
        while not stop.is_set() and time.monotonic() < deadline:
            if child.link in multiprocessing.connection.wait([child.link], timeout=0.1):
                with contextlib.suppress(EOFError, OSError):
                    if child.link.recv_bytes() == _READY:
                        return True
                break  # the child closed its end: it died, or is dying
        if not stop.is_set():
            logger.error(f"{self.label(index)} process did not start", extra=child.described(index))
        return False

    def watch(self, stop: threading.Event) -> int:
        """Until ``stop``: replace a child that dies; 1 if a replacement cannot start."""
        while not stop.is_set():
            sentinels = [child.process.sentinel for child in self.children]
            ended = multiprocessing.connection.wait(sentinels, timeout=0.5)
            if stop.is_set():
                break
            for index, child in enumerate(self.children):
                if child.process.sentinel not in ended:
                    continue
                child.process.join()
                child.link.close()
                logger.warning(
                    f"{self.label(index)} process exited; starting another",
                    extra=child.described(index),
                )
                self.children[index] = self._spawn(index)
                if not self._wait_ready(index, stop):
                    return 0 if stop.is_set() else 1
        return 0

    def stop(self, timeout: float) -> None:
        """SIGTERM every child; SIGKILL those still running after ``timeout`` seconds."""
        for child in self.children:
            if child.process.is_alive() and child.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for index, child in enumerate(self.children):
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():
                logger.error(
                    f"{self.label(index)} process did not stop; killing it",
                    extra={"pid": child.process.pid},
                )
                child.process.kill()
                child.process.join()
            child.link.close()


@dataclass(frozen=True)
class _Child:
    """A child process and the parent's end of its link."""

    process: SpawnProcess
    link: Connection

    def described(self, index: int) -> dict[str, Any]:
        """The child's fields in a log line."""
        return {"index": index, "pid": self.process.pid, "exitcode": self.process.exitcode}


def _stop_on_signals() -> threading.Event:
    """A flag SIGTERM and SIGINT raise (the children get their own SIGTERM from us)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    return stop


def _child(
    link: Connection,
    parent_pid: int,
    grace: float,
    target: Callable[..., None],
    arguments: tuple[Any, ...],
) -> None:
    """A child's life (run by ``multiprocessing`` in a fresh interpreter): tied to the
    parent first, then ``target``, which calls ``on_ready`` once it serves."""
    _die_with_parent(parent_pid)
    _watch_parent(link, grace)

    def on_ready() -> None:
        # A dead parent's end is closed: the write fails at once, it never blocks.
        with contextlib.suppress(OSError):
            link.send_bytes(_READY)

    target(*arguments, on_ready=on_ready)


def _part(
    settings: Settings,
    api: bool,
    workers: bool,
    handlers_spec: str | None,
    *,
    on_ready: Callable[[], None],
) -> None:
    """One child: an API process (``runtime.run`` on its own socket bound to the shared
    port) or the delivery process (``runtime.run`` of the workers alone)."""
    from hookline import logs, runtime

    logs.configure(settings.log_level, settings.log_json)
    handlers = None
    if handlers_spec is not None:
        from hookline.delivery.handlers import load

        sys.path.insert(0, os.getcwd())
        handlers = load(handlers_spec)
    sock = runtime.bind_socket(settings.host, settings.port, reuse_port=True) if api else None
    runtime.run(
        settings, api=api, workers=workers, sock=sock, handlers=handlers,
        on_ready=lambda url: on_ready(),
    )  # fmt: skip


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux for SIGTERM when the parent dies; exit now if it already has.

    The parent may die before the request is made: then this process was already
    handed to another parent, which ``getppid`` shows. (Linux sends the signal when
    the parent's *thread* that spawned the child ends: the parent spawns from its
    main thread, which ends last.)
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        os._exit(1)


def _watch_parent(link: Connection, grace: float) -> None:
    """When the parent is gone (its end of ``link`` closes, however it died), stop as
    SIGTERM stops a process, and end for sure ``grace`` + ``STOP_MARGIN`` seconds
    later: the kernel's alarm, which no stuck Python code can hold back, ends it."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                link.recv_bytes()  # the parent sends nothing: this returns at its end
        signal.setitimer(signal.ITIMER_REAL, grace + STOP_MARGIN)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hookline-parent-watch", daemon=True).start()
