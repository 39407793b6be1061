"""Child processes of the harness: hookline (killed and restarted) and the chaos receiver.

Every child is started from the harness's main thread and told by Linux to die
with it (``PR_SET_PDEATHSIG``), so not even a ``kill -9`` of the harness leaves
one behind; :func:`stop_all` ends whatever is still running, in ``finally`` blocks.
A hookline process writes each incarnation's output to its own log file, where
its readiness line ("hookline listening on <url>", "hookline workers running")
is looked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
_LISTENING = "hookline listening on "
_WORKERS = "hookline workers running"
_running: list[subprocess.Popen[bytes]] = []
#: The last line of a traceback: ``KeyError: 'ep_...'``, ``psycopg.OperationalError: ...``.
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


class StartError(RuntimeError):
    """A process did not come up."""


def _load_prctl() -> Any:
    """libc's ``prctl``, loaded once in the harness (never between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (run in the child)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    argv: list[str], env: dict[str, str], log_path: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output going to ``log_path``; registered for :func:`stop_all`."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - argv is built here, from sys.executable
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - calls a prctl loaded beforehand, nothing else
        )
    _running.append(process)
    return process


def end(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit code."""
    if process in _running:
        _running.remove(process)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(10)


def stop_all() -> None:
    """SIGKILL every child still running (the last resort of a ``finally``)."""
    for process in list(_running):
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        _running.remove(process)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HooklineProcess:
    """One slot (``serve``, ``api`` or ``worker``), restarted as new incarnations.

    ``serve`` and ``api`` slots keep their port across restarts, so clients need
    only retry. ``pid`` is the current incarnation's.
    """

    def __init__(
        self, command: str, index: int, env: dict[str, str], log_dir: Path, cwd: Path
    ) -> None:
        self.command = command
        self.index = index
        self.name = f"{command}-{index}"
        self.port = free_port() if command != "worker" else 0
        self.env = {**env, "HOOKLINE_PORT": str(self.port)}
        self.log_dir = log_dir
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.incarnation = 0
        #: When the current incarnation came up (``time.monotonic()``).
        self.ready_at = 0.0
        self._read_to = 0
        self._carry = ""
        self.log_path = log_dir / f"{self.name}.0.log"
        #: Exits nobody asked for: (time, exit code, log file).
        self.unexpected_exits: list[tuple[float, int, Path]] = []

    @property
    def url(self) -> str:
        """The API base URL (``serve`` and ``api``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The current incarnation's pid."""
        assert self.process is not None
        return self.process.pid

    @property
    def sends(self) -> bool:
        """Whether this process delivers webhooks (runs workers)."""
        return self.command in {"serve", "worker"}

    async def start(self, timeout: float = 30.0) -> None:
        """Start a new incarnation and wait for its readiness line."""
        self.incarnation += 1
        self.log_path = self.log_dir / f"{self.name}.{self.incarnation}.log"
        self._read_to, self._carry = 0, ""
        argv = [sys.executable, "-m", "hookline", self.command]
        self.process = spawn(argv, self.env, self.log_path, self.cwd)
        wanted = _WORKERS if self.command == "worker" else _LISTENING
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted in self.log_path.read_text(errors="replace"):
                self.ready_at = time.monotonic()
                return
            if self.process.poll() is not None:
                raise StartError(f"{self.name} exited early:\n{self.logs()}")
            await asyncio.sleep(0.02)
        self.process.kill()
        raise StartError(f"{self.name} did not start in {timeout}s:\n{self.logs()}")

    def alive(self) -> bool:
        """Whether the current incarnation runs."""
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> int:
        """``kill -9`` the current incarnation; returns its pid."""
        assert self.process is not None
        pid = self.process.pid
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        if self.process in _running:
            _running.remove(self.process)
        return pid

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop the current incarnation cleanly (SIGTERM), SIGKILL past ``timeout``."""
        if self.process is None:
            return None
        return end(self.process, timeout)

    def new_output(self) -> str:
        """What the current incarnation wrote since the last call (with a little overlap)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._read_to)
                data = log.read()
        except OSError:
            return ""
        self._read_to += len(data)
        text = self._carry + data.decode(errors="replace")
        self._carry = text[-200:]
        return text

    def exception(self) -> str:
        """The last exception the current incarnation printed (a traceback's last line)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "no log"
        found = [line for line in lines if _EXCEPTION.match(line)]
        return found[-1] if found else "no traceback"

    def logs(self, tail: int = 3000) -> str:
        """The end of the current incarnation's output."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


def hookline_environment(settings: dict[str, str]) -> dict[str, str]:
    """The harness's environment without its own ``HOOKLINE_*`` values, plus ``settings``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    return {**base, **settings}
