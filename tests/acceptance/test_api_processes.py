"""``hookline serve``: API processes on one port and a delivery process, acting as one server.

With no flags, serve runs an API process per CPU but one, and a delivery process
(``--processes N`` sets the API processes); ``--single-process`` runs all in one.
The acceptance fixture starts single-process servers: these tests ask for the layout.
"""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support.metrics import scrape, value
from support.polling import wait_until
from support.receiver import Receiver
from support.server import AUTH, HooklineProcess, ServerFactory


def children(server: HooklineProcess) -> list[int]:
    """The pids of the server's children (but multiprocessing's resource tracker)."""
    assert server.process is not None
    found = []
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue  # gone meanwhile
            if b"spawn_main" in command:
                found.append(int(child))
    return sorted(found)


def started(server: HooklineProcess, what: str) -> list[int]:
    """The pids the parent logged as ``what`` ("API" or "delivery") processes it started."""
    lines = (json.loads(line) for line in server.logs().splitlines() if line.startswith("{"))
    return [line["pid"] for line in lines if line.get("msg") == f"{what} process started"]


def api_processes(server: HooklineProcess) -> list[int]:
    """The pids of the server's live API processes (its children but the delivery one)."""
    delivery = set(started(server, "delivery"))
    return [pid for pid in children(server) if pid not in delivery]


def delivery_process(server: HooklineProcess) -> int | None:
    """The pid of the server's live delivery process, if it has one now."""
    live = children(server)
    return next((pid for pid in reversed(started(server, "delivery")) if pid in live), None)


def connections_held(pid: int, port: int) -> int:
    """How many established TCP connections to ``port`` process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        if local_port == port and state == "01" and inode in inodes:
            held += 1
    return held


def test_api_processes_share_the_port_deliver_and_count_together(
    start_server: ServerFactory, receiver: Receiver, database_url: str
) -> None:
    server = start_server(
        database_url, args=("--processes", "2"), poll_interval="0.2", single_process="false"
    )
    apis = wait_until(lambda: len(api_processes(server)) == 2 and api_processes(server))
    assert wait_until(lambda: delivery_process(server))
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"})

    # Kept-alive connections (16 clients or more): the kernel spreads them over both.
    clients = [httpx.Client(base_url=server.url, headers=AUTH, timeout=10) for _ in range(16)]
    try:

        def publish(index: int) -> int:
            client = clients[index % len(clients)]
            body = {"eventType": "invoice.paid", "payload": {"n": index}}
            return client.post(f"/api/v1/app/{app['id']}/msg", json=body).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(publish, range(96)))
        assert statuses == [202] * 96
        port = int(server.url.rsplit(":", 1)[1])
        held = {pid: connections_held(pid, port) for pid in apis}
        assert all(count > 0 for count in held.values()), held
    finally:
        for client in clients:
            client.close()

    # The delivery process delivers what either API process stored, once each.
    received = receiver.wait_for(96, timeout=30)
    assert sorted(json.loads(r.body)["n"] for r in received) == list(range(96))
    # Counters are shared: any process answering the scrape counts every publish, and the
    # delivery process's attempts (counted as their outcomes are recorded, just after).
    attempts = "hookline_attempt_duration_seconds_count"
    wait_until(
        lambda: value(scrape(server), attempts, kind="http") == 96, what="96 attempts counted"
    )
    for _ in range(4):
        metrics = scrape(server)
        assert value(metrics, "hookline_messages_published_total", origin="api") == 96
        assert value(metrics, attempts, kind="http") == 96


def test_a_port_in_use_is_refused_as_one_process_would_refuse_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(args=("--processes", "2"), single_process="false")
    port = server.url.rsplit(":", 1)[1]
    second = HooklineProcess(
        server.database_url,
        {"HOOKLINE_PORT": port, "HOOKLINE_SECRET_KEY_FILE": str(tmp_path / "hookline.key")},
        "api",
        ("--processes", "2"),
    )
    try:
        with pytest.raises(RuntimeError, match="cannot start"):
            second.start(tmp_path / "second.log")
    finally:
        second.kill()
    assert second.process is not None
    assert second.process.returncode == 1


def test_sigterm_stops_every_process(start_server: ServerFactory) -> None:
    server = start_server(args=("--processes", "2"), single_process="false")
    every = wait_until(lambda: len(children(server)) == 3 and children(server))

    assert server.terminate(timeout=30) == 0
    assert not [pid for pid in every if Path(f"/proc/{pid}").exists()]
    assert "Finished server process" in server.logs()


def test_a_dead_api_process_is_replaced_and_none_outlives_the_parent(
    start_server: ServerFactory,
) -> None:
    server = start_server(args=("--processes", "2"), single_process="false")
    first, second = wait_until(lambda: len(api_processes(server)) == 2 and api_processes(server))

    os.kill(second, signal.SIGKILL)
    replaced = wait_until(
        lambda: (now := api_processes(server)) and len(now) == 2 and second not in now and now,
        timeout=30,
    )
    assert first in replaced
    wait_until(lambda: "API process exited; starting another" in server.logs())
    for _ in range(8):  # every request lands on a live process
        with server.client() as api:
            assert api.get("/api/v1/app").status_code == 200

    every = children(server)
    server.kill()  # kill -9 of the parent: the children are told to stop by the kernel
    wait_until(lambda: not [pid for pid in every if _running(pid)], timeout=30)


def test_a_parent_killed_while_a_replacement_starts_leaves_no_process(
    start_server: ServerFactory,
) -> None:
    """kill -9 of the parent while it waits for a replacement to start (the moment that
    once left the replacement serving for good) takes every child with it."""
    server = start_server(args=("--processes", "2"), single_process="false")
    _, second = wait_until(lambda: len(api_processes(server)) == 2 and api_processes(server))

    os.kill(second, signal.SIGKILL)
    replacing = wait_until(
        lambda: (now := api_processes(server)) and len(now) == 2 and second not in now and now,
        timeout=30,
    )
    every = [*replacing, *children(server)]
    server.kill()  # the replacement is still starting: it has not said it is ready
    wait_until(lambda: not [pid for pid in every if _running(pid)], timeout=30)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (dead) parent's reaper."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"


def test_serve_with_no_flags_delivers_from_its_delivery_process_at_once(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """No flags: API processes and a delivery process; a publish committed by an API
    process wakes the delivery process at once (the poll interval here is 30 s: only the
    wake-up can deliver in time), and a delivery process that dies is replaced."""
    server = start_server(poll_interval="30", single_process="false")
    assert "+ a delivery process on" in server.logs()
    apis = wait_until(lambda: api_processes(server))
    delivery = wait_until(lambda: delivery_process(server))
    assert delivery not in apis
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"})
        for n in range(3):
            body = {"eventType": "invoice.paid", "payload": {"n": n}}
            assert api.post(f"/api/v1/app/{app['id']}/msg", json=body).status_code == 202
            # Each alone: the worker is napping (its poll is 30 s) when the publish lands.
            assert len(receiver.wait_for(n + 1, timeout=5)) == n + 1

        os.kill(delivery, signal.SIGKILL)
        replacement = wait_until(
            lambda: (now := delivery_process(server)) != delivery and now, timeout=30
        )
        wait_until(lambda: "delivery process exited; starting another" in server.logs())
        assert replacement not in apis
        body = {"eventType": "invoice.paid", "payload": {"n": 3}}
        assert api.post(f"/api/v1/app/{app['id']}/msg", json=body).status_code == 202
        assert len(receiver.wait_for(4, timeout=10)) == 4


def test_single_process_runs_everything_in_one(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    server = start_server(args=("--single-process",), single_process="false")
    assert "API + workers on" in server.logs()
    assert children(server) == []
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"})
        body = {"eventType": "invoice.paid", "payload": {"n": 0}}
        assert api.post(f"/api/v1/app/{app['id']}/msg", json=body).status_code == 202
    assert len(receiver.wait_for(1, timeout=10)) == 1


def test_single_process_with_several_api_processes_is_refused(
    start_server: ServerFactory,
) -> None:
    with pytest.raises(RuntimeError, match="--single-process runs one process"):
        start_server(args=("--single-process", "--processes", "2"))
