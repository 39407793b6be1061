"""The harness's broker mode: kill -9 hookline while it delivers to real brokers.

``python -m chaos --brokers rabbitmq,redis,nats,postgres`` runs hookline as the HTTP
mode does (``serve`` on SQLite, APIs and workers on PostgreSQL), but its destinations
are a RabbitMQ queue, a Redis stream, a JetStream stream and a PostgreSQL table
(``chaos/sinks.py``), every message routed to each. Messages are published over the
run while the processes are killed and restarted (``chaos/faults.py``); then, bounded
in time, it waits until every destination's deliveries have settled and reads every
broker back. The proofs, per destination:

1. **Nothing lost.** Every published message is in the broker, with its message id,
   its body as published and ``webhook-id`` equal to that id; nothing else is there;
   hookline's own stats say every delivery succeeded and none failed or is pending.
2. **Duplicates only from crashes, and detectable.** Delivery is at least once: a
   worker killed after the broker confirmed but before recording it sends again, and
   the copy carries the same message id. The extra copies are at most what the killed
   senders could have had in flight (kills x worker concurrency x batch size). Where
   the destination cannot store a second copy (JetStream's ``Nats-Msg-Id`` within its
   duplicate window, PostgreSQL's unique key with ``ON CONFLICT DO NOTHING``), there
   are none at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos import sinks
from chaos.faults import Faults
from chaos.load import Api, Published, PublishStats, publish_all
from chaos.plan import EVENT_TYPES, Plan
from chaos.processes import hookline_environment, stop_all
from chaos.report import RunFacts
from chaos.run import _API_DEADLINE, _cancel, _note_facts, database, hookline_processes
from hookline.domain.secrets import generate_key

_SHOWN = 5


@dataclass
class SinkFigures:
    """What one destination received, and what hookline says about it."""

    kind: str
    destination_id: str = ""
    arrived: int = 0
    distinct: int = 0
    lost: int = 0
    extra: int = 0
    unknown: int = 0
    wrong_body: int = 0
    wrong_webhook_id: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    #: Most extra copies the crashes can explain (0 for an exactly-once destination).
    bound: int = 0


@dataclass
class BrokerVerdict:
    """The broker mode's proofs: figures per destination and every failure."""

    messages: int = 0
    sender_kills: int = 0
    sinks: list[SinkFigures] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every property holds."""
        return not self.failures


async def run_brokers(plan: Plan) -> tuple[RunFacts, BrokerVerdict]:
    """Carry out one broker-mode run and prove its properties."""
    workdir = plan.workdir or Path(tempfile.mkdtemp(prefix="hookline-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    facts = RunFacts(workdir=str(workdir))
    started = time.monotonic()
    run_id = secrets.token_hex(4)
    made = [sinks.make(kind, run_id, plan.postgres_url) for kind in plan.brokers]
    try:
        configs = [await sink.prepare() for sink in made]
        with database(plan, workdir) as url:
            verdict = await _exercise(plan, url, made, configs, run_id, workdir, facts)
    finally:
        stop_all()
        for sink in made:
            with contextlib.suppress(Exception):
                await sink.remove()
    facts.run_seconds = time.monotonic() - started
    return facts, verdict


async def _exercise(
    plan: Plan, url: str, made: list[sinks.Sink], configs: list[dict[str, Any]], run_id: str,
    workdir: Path, facts: RunFacts,
) -> BrokerVerdict:  # fmt: skip
    rng = random.Random(plan.seed)
    env = hookline_environment(plan.hookline_settings(url, generate_key()))
    processes = hookline_processes(plan, env, workdir)
    facts.shape = " + ".join(p.command for p in processes)
    await processes[0].start()
    await asyncio.gather(*(p.start() for p in processes[1:]))
    api = Api([p.url for p in processes if p.command != "worker"])
    faults = Faults(plan, processes, rng, None, url)
    background: list[asyncio.Task[None]] = []
    verdict = BrokerVerdict(sinks=[SinkFigures(sink.kind) for sink in made])
    try:
        deadline = time.monotonic() + _API_DEADLINE
        app = await api.json("POST", "/api/v1/app", deadline=deadline, json={"name": "chaos"})
        for sink, config, figures in zip(made, configs, verdict.sinks, strict=True):
            body = {"type": sink.destination_type, "config": config,
                    "batchSize": sink.batch_size, "maxWaitSecs": 0}  # fmt: skip
            created = await api.json(
                "POST", f"/api/v1/app/{app['id']}/destination", deadline=deadline, json=body
            )
            figures.destination_id = created["id"]
        stats = PublishStats()
        background.append(asyncio.create_task(faults.watch()))
        load_started, load_wall = time.monotonic(), time.time()
        playing = asyncio.create_task(faults.play(load_started))
        background.append(playing)
        published = await publish_all(
            api, app["id"], plan.messages, plan.duration, run_id, rng, stats,
            load_started + plan.duration + 90.0,
        )  # fmt: skip
        await playing
        drain_started = time.monotonic()
        detail = await _drain(api, app["id"], made, verdict.sinks, len(published), plan)
        facts.drain_seconds = time.monotonic() - drain_started
        verdict.failures += [f"publish: {failure}" for failure in stats.failures]
        verdict.failures += [f"process {problem}" for problem in faults.problems]
        if detail:
            verdict.failures.append(detail)
    finally:
        for task in background:
            await _cancel(task)
        await api.close()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))
    _note_facts(facts, faults, api, stats, load_wall)
    verdict.messages = plan.messages
    verdict.sender_kills = sum(1 for k in faults.kills if k.sends)
    for sink, figures in zip(made, verdict.sinks, strict=True):
        verdict.failures += prove(sink, figures, published, run_id, verdict.sender_kills, plan)
    return verdict


async def _drain(
    api: Api, app_id: str, made: list[sinks.Sink], figures: list[SinkFigures], count: int,
    plan: Plan,
) -> str:  # fmt: skip
    """Wait until every destination's deliveries have settled; '' or why they did not."""
    deadline = time.monotonic() + plan.drain_timeout
    while True:
        settled = True
        for sink, shown in zip(made, figures, strict=True):
            await sink.read()
            path = f"/api/v1/app/{app_id}/endpoint/{shown.destination_id}/stats"
            shown.stats = await api.json("GET", path, deadline=time.monotonic() + _API_DEADLINE)
            s = shown.stats
            done = s["pending"] == 0 and s["sending"] == 0 and s["success"] + s["fail"] >= count
            settled = settled and done
        if settled:
            # Whatever was still on its way to a broker when the stats settled.
            await asyncio.sleep(0.5)
            for sink in made:
                await sink.read()
            return ""
        if time.monotonic() > deadline:
            stats = {shown.kind: shown.stats for shown in figures}
            return f"not settled after {plan.drain_timeout:.0f}s: {stats}"
        await asyncio.sleep(0.25)


def prove(
    sink: sinks.Sink, figures: SinkFigures, published: dict[int, Published], run_id: str,
    sender_kills: int, plan: Plan,
) -> list[str]:  # fmt: skip
    """The properties of one destination (module docstring); the failures found."""
    failures: list[str] = []
    expected = {p.msg_id: p for p in published.values()}
    copies = Counter(a.msg_id for a in sink.arrived)
    figures.arrived = len(sink.arrived)
    figures.distinct = len(copies)
    lost = sorted(set(expected) - set(copies))
    unknown = sorted(set(copies) - set(expected))
    figures.lost, figures.unknown = len(lost), len(unknown)
    figures.extra = sum(n - 1 for n in copies.values())
    figures.bound = (
        0 if sink.exactly_once else sender_kills * plan.worker_concurrency * sink.batch_size
    )
    for arrived in sink.arrived:
        sent = expected.get(arrived.msg_id)
        if sent is None:
            continue
        if sinks.payload_of(arrived.body) != {"n": sent.n, "run": run_id}:
            figures.wrong_body += 1
        if arrived.webhook_id != arrived.msg_id:
            figures.wrong_webhook_id += 1
    name = sink.kind
    if lost:
        failures.append(f"{name}: {len(lost)} messages never arrived: {lost[:_SHOWN]}")
    if unknown:
        failures.append(f"{name}: {len(unknown)} messages nobody published: {unknown[:_SHOWN]}")
    if figures.extra > figures.bound:
        how = "none can be" if sink.exactly_once else f"the crashes explain at most {figures.bound}"
        failures.append(f"{name}: {figures.extra} extra copies, {how}")
    if figures.wrong_body:
        failures.append(f"{name}: {figures.wrong_body} bodies differ from what was published")
    if figures.wrong_webhook_id:
        failures.append(f"{name}: {figures.wrong_webhook_id} messages with a wrong webhook-id")
    stats = figures.stats
    if stats.get("fail", 0) or stats.get("success", 0) != len(expected):
        failures.append(f"{name}: hookline's stats are not {len(expected)} successes: {stats}")
    return failures


def table(plan: Plan, facts: RunFacts, verdict: BrokerVerdict) -> str:
    """The broker mode's report as aligned text."""
    rows = [
        ("mode", f"brokers on {plan.backend}: {facts.shape}"),
        ("seed", str(plan.seed)),
        ("messages", f"{verdict.messages} published, each routed to {len(verdict.sinks)} "
                     f"destinations ({', '.join(EVENT_TYPES)})"),
        ("kills", f"{len(facts.kills)} kill -9 ({verdict.sender_kills} of senders), "
                  f"{facts.restarts} restarts"),
    ]  # fmt: skip
    for shown in verdict.sinks:
        rows.append((
            shown.kind,
            f"{shown.distinct} of {verdict.messages} arrived, {shown.lost} lost, "
            f"{shown.extra} extra copies (bound {shown.bound}), {shown.unknown} unknown, "
            f"{shown.wrong_body} wrong bodies",
        ))  # fmt: skip
    rows += [
        ("timeline", "; ".join(facts.timeline) or "-"),
        ("drain", f"{facts.drain_seconds:.1f} s"),
        ("run", f"{facts.run_seconds:.1f} s"),
        ("result", "PASS" if verdict.passed else "FAIL"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"  - {failure}" for failure in verdict.failures]
    if facts.workdir:
        lines.append(f"logs in {facts.workdir}")
    return "\n".join(lines)


def as_json(plan: Plan, facts: RunFacts, verdict: BrokerVerdict) -> dict[str, Any]:
    """The broker mode's report as a JSON document."""
    shown_plan = {**asdict(plan), "workdir": str(plan.workdir) if plan.workdir else None}
    return {
        "mode": "brokers", "plan": shown_plan, "facts": asdict(facts),
        "verdict": {**asdict(verdict), "passed": verdict.passed}, "passed": verdict.passed,
    }  # fmt: skip
