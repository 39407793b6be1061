"""Several API processes on one port: ``hookline api --processes N`` (and ``serve``).

One hookline process runs its event loop and its storage writer under one GIL,
so it uses about one CPU however many the machine has (docs/performance.md).
Here a parent migrates the database and creates the first admin token once,
holds the port (bound, not listening), then spawns N children that each run the
API (``runtime.run``) on their own socket bound to that port with
``SO_REUSEPORT``: the kernel spreads new connections evenly between them (one
shared socket would let whichever child woke first take a burst of connections,
which measured no faster than one process). With ``serve``, child 0 also runs
the delivery workers.

- Counters and histograms are shared through prometheus_client's multiprocess
  mode (a directory of this parent's, set before the children import it), so
  ``/metrics`` from any child counts all of them.
- A child that dies after it was ready is started again; one that dies before
  it was ready stops the group, since it would only die again.
- SIGTERM or SIGINT to the parent reaches every child, which shuts down as a
  single process does; children also die with the parent (Linux), so a
  ``kill -9`` of the parent leaves no orphans.
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
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event

from hookline import runtime
from hookline.settings import Settings

logger = logging.getLogger(__name__)

#: How long a child may take to start listening.
START_TIMEOUT = 60.0
#: prometheus_client's switch to its multiprocess mode (read when it is imported).
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_PR_SET_PDEATHSIG = 1


def run(
    settings: Settings,
    *,
    workers: bool,
    on_ready: Callable[[str], None],
    on_first_token: Callable[[str], None],
    handlers_spec: str | None = None,
) -> int:
    """Run ``settings.api_processes`` API processes until a signal; the exit code.

    ``workers``: child 0 also runs the delivery workers (with ``handlers_spec``,
    the Python handlers it names, loaded in that child).
    """
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
    child_settings = settings.model_copy(update={"port": port})
    group = _Group(child_settings, workers, handlers_spec)
    stop = _stop_on_signals()
    try:
        if not group.start(stop):
            return 1
        on_ready(f"http://{host}:{port}")
        return group.watch(stop)
    finally:
        group.stop(settings.shutdown_grace + 10)
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _hold_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to the port the children will share.

    First a plain bind, which fails if anything listens there already, as one
    process's bind does: ``SO_REUSEPORT`` alone would let a second group (of the
    same user) share the port without a word. Then the port is held with
    ``SO_REUSEPORT`` for as long as the group runs, so port 0 resolves once and no
    other program takes the port while a child is being replaced.
    """
    probe = runtime.bind_socket(host, port, listen=False)
    port = probe.getsockname()[1]
    probe.close()
    return runtime.bind_socket(host, port, reuse_port=True, listen=False)


class _Group:
    """The children, by index; started, watched, replaced and stopped together."""

    def __init__(self, settings: Settings, workers: bool, handlers_spec: str | None) -> None:
        self.settings = settings
        self.workers = workers
        self.handlers_spec = handlers_spec
        self.context = multiprocessing.get_context("spawn")
        self.children: list[tuple[SpawnProcess, Event]] = []

    def _spawn(self, index: int) -> tuple[SpawnProcess, Event]:
        ready = self.context.Event()
        process = self.context.Process(
            target=_child,
            args=(
                self.settings, self.workers and index == 0, self.handlers_spec, ready,
                os.getpid(),
            ),
            name=f"hookline-api-{index}",
        )  # fmt: skip
        process.start()
        logger.info("API process started", extra={"index": index, "pid": process.pid})
        return process, ready

    def start(self, stop: threading.Event) -> bool:
        """Spawn every child and wait until each listens (False: one could not start)."""
        self.children = [self._spawn(index) for index in range(self.settings.api_processes)]
        return all(self._wait_ready(index, stop) for index in range(len(self.children)))

    def _wait_ready(self, index: int, stop: threading.Event) -> bool:
        process, ready = self.children[index]
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.1):
            if stop.is_set():
                return False
            if not process.is_alive() or time.monotonic() > deadline:
                logger.error(
                    "API process did not start",
                    extra={"index": index, "pid": process.pid, "exitcode": process.exitcode},
                )
                return False
        return True

    def watch(self, stop: threading.Event) -> int:
        """Until ``stop``: replace a child that dies; 1 if a replacement cannot start."""
        while not stop.is_set():
            sentinels = [process.sentinel for process, _ in self.children]
            ended = multiprocessing.connection.wait(sentinels, timeout=0.5)
            if stop.is_set():
                break
            for index, (process, _) in enumerate(self.children):
                if process.sentinel not in ended:
                    continue
                process.join()
                logger.warning(
                    "API process exited; starting another",
                    extra={"index": index, "pid": process.pid, "exitcode": process.exitcode},
                )
                self.children[index] = self._spawn(index)
                if not self._wait_ready(index, stop):
                    return 0 if stop.is_set() else 1
        return 0

    def stop(self, timeout: float) -> None:
        """SIGTERM every child; SIGKILL those still running after ``timeout`` seconds."""
        for process, _ in self.children:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process, _ in self.children:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error("API process did not stop; killing it", extra={"pid": process.pid})
                process.kill()
                process.join()


def _stop_on_signals() -> threading.Event:
    """A flag SIGTERM and SIGINT raise (the children get their own SIGTERM from us)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    return stop


def _child(
    settings: Settings, workers: bool, handlers_spec: str | None, ready: Event, parent_pid: int
) -> None:
    """One API process (run by ``multiprocessing`` in a fresh interpreter)."""
    _die_with_parent(parent_pid)
    from hookline import logs

    logs.configure(settings.log_level, settings.log_json)
    handlers = None
    if handlers_spec is not None:
        from hookline.delivery.handlers import load

        sys.path.insert(0, os.getcwd())
        handlers = load(handlers_spec)
    sock = runtime.bind_socket(settings.host, settings.port, reuse_port=True)
    runtime.run(
        settings, api=True, workers=workers, sock=sock, handlers=handlers,
        on_ready=lambda url: ready.set(),
    )  # fmt: skip


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux for SIGTERM when the parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        sys.exit(1)
