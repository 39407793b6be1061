"""One chaos run, start to finish: bounded in time, every process stopped, also on failure.

1. start the chaos receiver; make the database (a SQLite file, or a fresh
   PostgreSQL database); start hookline (``serve``, or 2 ``api`` + 2 ``worker``);
2. create an application, two event types and the endpoints;
3. publish the messages over ``duration`` seconds while the faults play;
4. wait (bounded) until every delivery has settled, read the records back
   through the API, stop hookline cleanly, stop the receiver;
5. prove the properties from the receiver's log and the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from chaos import postgres
from chaos.evidence import Evidence, attempts_from, read_receiver_log
from chaos.faults import Faults
from chaos.load import (
    Api,
    ApiRecords,
    Published,
    PublishStats,
    Setup,
    endpoint_stats,
    publish_all,
    read_back,
    set_up,
)
from chaos.plan import Plan, routed_to, routes
from chaos.processes import HooklineProcess, end, hookline_environment, spawn, stop_all
from chaos.proofs import Verdict, prove
from chaos.report import RunFacts
from hookline.domain.secrets import generate_key

#: The directory that holds the ``chaos`` package (so children can import it).
ROOT = Path(__file__).resolve().parent.parent
_API_DEADLINE = 60.0


class HarnessError(RuntimeError):
    """The run could not be carried out (as opposed to a property failing)."""


class ReceiverProcess:
    """The chaos receiver, in its own process."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.log_path = workdir / "receiver.jsonl"
        self.port_file = workdir / "receiver.port"
        argv = [
            sys.executable, "-m", "chaos.receiver", "--log", str(self.log_path),
            "--port-file", str(self.port_file), "--seed", str(plan.seed),
            "--mix", json.dumps(plan.mix), "--hang-seconds", str(plan.hang_seconds),
            "--slow-seconds", str(plan.slow_seconds),
        ]  # fmt: skip
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        self.process = spawn(argv, env, workdir / "receiver.log", ROOT)
        self.timeout = plan.hang_seconds + 5
        self.url = ""

    async def ready(self, timeout: float = 20.0) -> str:
        """Wait for the port file; returns the receiver's base URL."""
        deadline = time.monotonic() + timeout
        while not self.port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise HarnessError("the chaos receiver did not start")
            await asyncio.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(self.port_file.read_text())}"
        return self.url

    def stop(self) -> None:
        """SIGTERM: it finishes what it has, syncs its log and exits."""
        end(self.process, self.timeout)


@contextlib.contextmanager
def database(plan: Plan, workdir: Path) -> Iterator[str]:
    """The run's database URL: a SQLite file, the given PostgreSQL database, or a fresh one."""
    if plan.backend == "sqlite":
        yield f"sqlite:///{workdir / 'hookline.db'}"
    elif plan.database_url:
        yield plan.database_url
    else:
        with postgres.fresh_database(plan.postgres_url) as url:
            yield url


def hookline_processes(plan: Plan, env: dict[str, str], workdir: Path) -> list[HooklineProcess]:
    """``serve`` alone on SQLite; ``api`` and ``worker`` processes on PostgreSQL."""
    if plan.backend == "sqlite":
        return [HooklineProcess("serve", 0, env, workdir, workdir)]
    return [HooklineProcess("api", i, env, workdir, workdir) for i in range(plan.api_processes)] + [
        HooklineProcess("worker", i, env, workdir, workdir) for i in range(plan.worker_processes)
    ]


async def run(plan: Plan) -> tuple[RunFacts, Verdict]:
    """Carry out one run and prove its properties."""
    workdir = plan.workdir or Path(tempfile.mkdtemp(prefix="hookline-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    facts = RunFacts(workdir=str(workdir))
    started = time.monotonic()
    try:
        receiver = ReceiverProcess(plan, workdir)
        receiver_url = await receiver.ready()
        with database(plan, workdir) as url:
            evidence = await _exercise(plan, url, receiver_url, workdir, facts)
        receiver.stop()
        evidence.requests = read_receiver_log(receiver.log_path)
    finally:
        stop_all()
    facts.run_seconds = time.monotonic() - started
    return facts, prove(evidence)


async def _exercise(
    plan: Plan, url: str, receiver_url: str, workdir: Path, facts: RunFacts
) -> Evidence:
    """Steps 1 to 4 on the database ``url``; the receiver's requests are filled in later."""
    rng = random.Random(plan.seed)
    run_id = secrets.token_hex(4)
    cluster = postgres.local_cluster(url) if plan.restart_postgres else None
    env = hookline_environment(plan.hookline_settings(url, generate_key()))
    processes = hookline_processes(plan, env, workdir)
    facts.shape = " + ".join(f"{p.command}" for p in processes)
    await processes[0].start()  # the first one migrates; the others start together
    await asyncio.gather(*(p.start() for p in processes[1:]))
    api = Api([p.url for p in processes if p.command != "worker"])
    faults = Faults(plan, processes, rng, cluster, url)
    background: list[asyncio.Task[None]] = []
    try:
        setup = await set_up(api, receiver_url, plan.endpoints, time.monotonic() + _API_DEADLINE)
        stats = PublishStats()
        watcher = asyncio.create_task(faults.watch())
        load_started = time.monotonic()
        load_wall = time.time()
        publish_deadline = load_started + plan.duration + 90.0
        playing = asyncio.create_task(faults.play(load_started))
        background += [watcher, playing]
        published = await publish_all(
            api, setup.app_id, plan.messages, plan.duration, run_id, rng, stats, publish_deadline
        )
        await playing
        table = routes(plan.endpoints)
        routed = {p.msg_id: routed_to(p.event_type, table) for p in published.values()}
        drain_started = time.monotonic()
        drained, detail = await _drain(api, setup, routed, plan.drain_timeout)
        facts.drain_seconds = time.monotonic() - drain_started
        records = await read_back(api, setup, time.monotonic() + _API_DEADLINE)
        _save_records(workdir, records, faults, published)
        await _cancel(watcher)
        problems = list(faults.problems)
        problems += [f"{p.name} is not running at the end" for p in processes if not p.alive()]
    finally:
        for task in background:
            await _cancel(task)
        await api.close()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))
    if faults.outages:
        # The restart affected the whole server: prove it is back before leaving.
        await asyncio.to_thread(postgres.wait_until_up, url, 60.0)
    _note_facts(facts, faults, api, stats, load_wall)
    return Evidence(
        published=published, routed=routed, records=records, requests=[],
        attempts=attempts_from(records), kills=faults.kills, outages=faults.outages,
        request_timeout=plan.request_timeout, connect_timeout=plan.connect_timeout,
        lease_seconds=plan.lease_seconds, worker_concurrency=plan.worker_concurrency,
        worker_processes=max(1, plan.worker_processes), max_attempts=plan.max_attempts,
        publish_failures=stats.failures, process_problems=problems, drained=drained,
        drain_detail=detail,
    )  # fmt: skip


def _note_facts(
    facts: RunFacts, faults: Faults, api: Api, stats: PublishStats, load_wall: float
) -> None:
    """What the faults and the publishing did, for the report."""
    facts.kills = [k.name for k in faults.kills if k.planned]
    facts.failed_processes = len(faults.problems)
    facts.timeline = [
        f"{k.at - load_wall:6.2f}s {'kill -9' if k.planned else 'stop (hung)'} {k.name} "
        f"(pid {k.pid})"
        for k in faults.kills
    ] + [
        f"{o.start - load_wall:6.2f}s PostgreSQL restart, up after {o.end - o.start:.2f}s"
        for o in faults.outages
    ]
    facts.timeline.sort()
    facts.restarts = faults.restarts
    facts.postgres_restarts = len(faults.outages)
    facts.postgres_down_seconds = sum(o.end - o.start for o in faults.outages)
    facts.publish_retries = dict(api.retries)
    facts.publish_replayed = stats.replayed
    facts.publish_found_after_conflict = stats.found_after_conflict
    facts.publish_new_keys = stats.new_keys


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it to end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _drain(
    api: Api, setup: Setup, routed: dict[str, frozenset[str]], timeout: float
) -> tuple[bool, str]:
    """Wait until no delivery is pending or being sent and every one has settled."""
    expected = Counter(path for paths in routed.values() for path in paths)
    deadline = time.monotonic() + timeout
    while True:
        stats = await endpoint_stats(api, setup, time.monotonic() + _API_DEADLINE)
        settled = all(
            s["pending"] == 0 and s["sending"] == 0 and s["success"] + s["fail"] >= expected[p]
            for p, s in stats.items()
        )
        if settled:
            return True, ""
        if time.monotonic() > deadline:
            return False, f"not settled after {timeout:.0f}s: {stats}"
        await asyncio.sleep(0.25)


def _save_records(
    workdir: Path, records: ApiRecords, faults: Faults, published: dict[int, Published]
) -> None:
    """Keep what was published, what the API said and what the faults did (post-mortems)."""
    document = {
        **asdict(records),
        "published": [asdict(p) for p in published.values()],
        "kills": [asdict(k) for k in faults.kills],
        "outages": [asdict(o) for o in faults.outages],
    }
    (workdir / "records.json").write_text(json.dumps(document))


def remove_workdir(facts: RunFacts) -> None:
    """Delete the run's directory (logs and database)."""
    if facts.workdir:
        shutil.rmtree(facts.workdir, ignore_errors=True)
        facts.workdir = ""
