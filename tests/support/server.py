"""``hookline serve`` started for real, as a subprocess, on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

#: The admin token every test server accepts (given through HOOKLINE_ADMIN_TOKEN).
ADMIN_TOKEN = "hk_test_admin_token_0123456789abcdefghijkl"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class HooklineProcess:
    """A running hookline server; ``url`` is its API base URL."""

    def __init__(
        self,
        database_url: str,
        env: dict[str, str] | None = None,
        command: str = "serve",
        args: tuple[str, ...] = (),
    ):
        self.database_url = database_url
        self.env = {
            **os.environ, "HOOKLINE_PORT": "0", "HOOKLINE_LOG_LEVEL": "INFO",
            "HOOKLINE_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {}),
        }  # fmt: skip
        self.env["HOOKLINE_DATABASE_URL"] = database_url
        self.command = command
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.log_path: Path | None = None

    def start(self, log_path: Path, timeout: float = 20.0) -> HooklineProcess:
        """Start the process and wait until it says where it listens."""
        self.log_path = log_path
        with log_path.open("a") as log:
            # The child keeps its own copy of the descriptor; ours can close at once.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hookline", self.command, *self.args],
                env=self.env,
                stdout=log,
                stderr=log,
                text=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in log_path.read_text().splitlines():
                if "hookline listening on " in line and self.command != "worker":
                    self.url = line.split("hookline listening on ")[1].split()[0]
                    return self
                if "hookline workers running" in line and self.command == "worker":
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"hookline exited early:\n{log_path.read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"hookline did not start in {timeout}s:\n{log_path.read_text()}")

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.Client:
        """An HTTP client for the API, sending ``token`` (the admin token unless told)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, timeout=10, headers=headers)

    def kill(self) -> None:
        """``kill -9``: no chance to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def logs(self) -> str:
        """Everything the process wrote."""
        return self.log_path.read_text() if self.log_path else ""


#: The ``start_server`` fixture: settings as keyword arguments, e.g. ``retry_schedule="1s"``.
ServerFactory = Callable[..., HooklineProcess]
