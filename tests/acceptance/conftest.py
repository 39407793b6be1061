"""Fixtures for acceptance tests: a real receiver and a real ``hookline serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.receiver import Receiver
from support.server import HooklineProcess, ServerFactory


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver that answers 200 unless a test changes its behaviour."""
    recv = Receiver().start()
    yield recv
    recv.stop()


@pytest.fixture
def server_defaults() -> dict[str, str]:
    """Settings every started server gets unless a test says otherwise (modules override)."""
    return {}


@pytest.fixture
def start_server(tmp_path: Path, server_defaults: dict[str, str]) -> Iterator[ServerFactory]:
    """Start ``hookline serve`` processes on a fresh SQLite file (settings as env overrides).

    Servers of one test share one key file in its temporary directory, made by the first.
    """
    started: list[HooklineProcess] = []

    def start(
        database_url: str | None = None,
        command: str = "serve",
        args: tuple[str, ...] = (),
        **env: str,
    ) -> HooklineProcess:
        url = database_url or f"sqlite:///{tmp_path / 'hookline.db'}"
        # Delivery tests send to a receiver on 127.0.0.1, allowed on purpose.
        env.setdefault("allowed_networks", "127.0.0.0/8")
        # The servers run in the repository's directory: keep their key file in the test's.
        env.setdefault("secret_key_file", str(tmp_path / "hookline.key"))
        # One process per server, as serve ran before it spread over the CPUs: cheaper to
        # start on a shared machine. serve's own layout (API processes and a delivery
        # process) is tested where it matters: test_api_processes.py, test_walkthrough.py.
        env.setdefault("single_process", "true")
        for key, value in server_defaults.items():
            env.setdefault(key, value)
        settings = {f"HOOKLINE_{k.upper()}": str(v) for k, v in env.items()}
        process = HooklineProcess(url, settings, command=command, args=args)
        started.append(process)
        return process.start(tmp_path / f"hookline-{len(started)}.log")

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def server(start_server: ServerFactory) -> HooklineProcess:
    """One ``hookline serve`` with a fast retry schedule."""
    return start_server(retry_schedule="1s,1s,1s", retry_jitter="0")
