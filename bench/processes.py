"""``hookline`` started for real, as a subprocess, and always stopped again.

Each process writes its output to a log file; its readiness line ("hookline
listening on <url>" for ``serve``/``api``, "hookline workers running" for
``worker``) is found by reading that file as it grows. Every started process is
registered, and :func:`stop_all` (called from ``finally`` blocks and on SIGTERM)
terminates whatever is still alive; on Linux each child is also told to die with
the benchmark process, so not even a ``kill -9`` of the benchmark leaves one behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import die_with_parent

_LISTENING = "hookline listening on "
_WORKERS = "hookline workers running"
_running: list[HooklineProcess] = []
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


#: The admin token bench servers accept; the limiter is off so it measures hookline, not it.
BENCH_TOKEN = "hk_bench_admin_token_0123456789abcdefghij"  # noqa: S105 - a bench fixture
AUTH = {"Authorization": f"Bearer {BENCH_TOKEN}"}


class HooklineProcess:
    """One ``python -m hookline <command>`` process on a given database."""

    def __init__(
        self, command: str, database_url: str, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.command = command
        self.log_path = log_path
        self.env = {
            **os.environ,
            "HOOKLINE_HOST": "127.0.0.1",
            "HOOKLINE_PORT": "0",
            "HOOKLINE_LOG_LEVEL": "WARNING",
            "HOOKLINE_ADMIN_TOKEN": BENCH_TOKEN,
            "HOOKLINE_API_RATE_LIMIT": "0",
            **(env or {}),
            "HOOKLINE_DATABASE_URL": database_url,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        #: ``time.perf_counter()`` when the readiness line was seen.
        self.ready_at = 0.0
        #: ``time.perf_counter()`` just before the process was spawned.
        self.spawned_at = 0.0
        self._log_start = 0

    def start(self, timeout: float = 30.0) -> HooklineProcess:
        """Spawn the process and wait (at most ``timeout`` s) for its readiness line."""
        return self.spawn().wait_ready(timeout)

    def spawn(self) -> HooklineProcess:
        """Start the process without waiting (several can then start side by side)."""
        with self.log_path.open("ab") as log:
            # A log may be appended to by an earlier process: look for readiness after it.
            self._log_start = log.tell()
            self.spawned_at = time.perf_counter()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hookline", self.command],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - no threads exist at this point
            )
        _running.append(self)
        return self

    def wait_ready(self, timeout: float = 30.0) -> HooklineProcess:
        """Wait (at most ``timeout`` s) for the readiness line of the spawned process."""
        assert self.process is not None
        wanted = _WORKERS if self.command == "worker" else _LISTENING
        deadline = time.monotonic() + timeout
        seen = b""
        with self.log_path.open("rb") as reader:
            reader.seek(self._log_start)
            while time.monotonic() < deadline:
                seen += reader.read()
                text = seen.decode(errors="replace")
                if wanted in text:
                    self.ready_at = time.perf_counter()
                    if wanted == _LISTENING:
                        self.url = text.split(_LISTENING, 1)[1].split()[0]
                    return self
                if self.process.poll() is not None:
                    raise RuntimeError(f"hookline {self.command} exited early:\n{self.logs()}")
                time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"hookline {self.command} did not start in {timeout}s:\n{self.logs()}")

    @property
    def pid(self) -> int:
        """The process id (for profilers)."""
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in ``timeout`` s. Returns the code."""
        process, self.process = self.process, None
        if self in _running:
            _running.remove(self)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        return process.wait(5)

    def logs(self, tail: int = 4000) -> str:
        """The end of what the process wrote."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


def stop_all() -> None:
    """Stop every hookline process this module started and that is still running."""
    for process in list(_running):
        process.stop(timeout=5)


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the threads of ``pid``.

    Keys: ``main`` for the main thread (where the event loop runs), then the
    other threads by name (Python's own threads are all named like the process,
    so they share one key, e.g. ``python (other threads)``). Linux only, read
    from ``/proc``; elsewhere, or once the process is gone, empty.
    """
    usage: dict[str, float] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return usage
    for task in tasks:
        try:
            name = (task / "comm").read_text().strip()
            # The name in field 2 may hold spaces; the fields after its ")" are fixed.
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        key = "main" if task.name == str(pid) else f"{name} (other threads)"
        usage[key] = usage.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / _TICKS
    return usage


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and the processes under it that are still
    running (``hookline api --processes N``: the parent and its API processes)."""
    total, pending, seen = 0.0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        total += process_cpu_seconds(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pending += [int(child) for child in (task / "children").read_text().split()]
    return total


def peak_rss_kib(pid: int) -> int:
    """The peak resident set size of ``pid`` so far (``VmHWM``), in KiB; 0 if unknown.

    Linux only, read from ``/proc``; read it before the process exits.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far; 0 if unknown (not Linux, gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all CPUs (``/proc/stat``).

    The difference of two readings says how busy the machine was meanwhile, whoever
    used it: on a shared machine, other people's work shows up here too.
    """
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq + steal
    return busy / _TICKS, (busy + idle + iowait) / _TICKS
