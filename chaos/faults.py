"""The faults of a run: ``kill -9`` at random moments, restarts, a PostgreSQL restart.

:class:`Faults` plays a seeded schedule (kills spread over the load, each
followed at once by a restart of the same process on the same database; at most
one PostgreSQL restart mid-run) and, beside it, watches for processes that exit,
or start shutting down, when nobody told them to: those are failures, recorded
with the exception the process printed, and restarted so the run can go on.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from chaos import postgres
from chaos.evidence import Kill, Outage
from chaos.plan import Plan
from chaos.processes import HooklineProcess, StartError

#: How long a killed process may take to come back (PostgreSQL may be restarting).
COME_BACK_WITHIN = 60.0
_WATCH_EVERY = 0.2
#: What a process writes only when it is stopping: if nobody asked it to, its delivery
#: loop or its server died.
_ALARMS = ('"msg":"shutting down"',)
#: How long (seconds, a random pick between the two) a process runs before a kill.
MIN_UPTIME = (2.0, 3.5)


@dataclass(frozen=True)
class Event:
    """One planned fault: at ``at`` seconds into the load, kill ``target`` (or restart PG).

    A kill also waits until its target has run ``uptime`` seconds since it came up,
    so that each incarnation has work in flight to lose.
    """

    at: float
    action: str
    target: HooklineProcess | None = None
    uptime: float = 0.0


class Faults:
    """Plays the schedule and watches the processes; records what happened."""

    def __init__(
        self, plan: Plan, processes: list[HooklineProcess], rng: random.Random,
        cluster: tuple[str, str] | None, database_url: str,
    ) -> None:  # fmt: skip
        self.plan = plan
        self.processes = processes
        self.rng = rng
        self.cluster = cluster
        self.database_url = database_url
        self.kills: list[Kill] = []
        self.outages: list[Outage] = []
        self.problems: list[str] = []
        self.restarts = 0
        #: Held while a process is being killed, recovered or restarted: one at a time.
        self._hands = {p.name: asyncio.Lock() for p in processes}

    def schedule(self) -> list[Event]:
        """Kills at random moments of the load (a worker's also just after it).

        An API process is killed only while messages are being published, since
        that is when a crash can cost it something.
        """
        span = self.plan.duration
        events = []
        for target in self._targets(self.plan.kills):
            latest = span + 2.0 if target.sends else 0.8 * span
            at = self.rng.uniform(0.1 * span, latest)
            events.append(Event(at, "kill", target, self.rng.uniform(*MIN_UPTIME)))
        if self.plan.restart_postgres:
            events.append(Event(self.rng.uniform(0.35 * span, 0.65 * span), "restart-postgres"))
        return sorted(events, key=lambda e: e.at)

    def _targets(self, count: int) -> list[HooklineProcess]:
        """Which process each kill hits; with separate processes, workers and APIs both."""
        senders = [p for p in self.processes if p.sends]
        others = [p for p in self.processes if not p.sends]
        if not others:
            return [self.rng.choice(senders) for _ in range(count)]
        # Every other kill hits a worker; the rest hit anything.
        targets = [
            self.rng.choice(senders) if i % 2 == 0 else self.rng.choice(self.processes)
            for i in range(count)
        ]
        if count >= 2 and not any(t in others for t in targets):
            targets[1] = self.rng.choice(others)
        return targets

    async def play(self, started: float) -> None:
        """Run the schedule; ``started`` is the load's start (monotonic).

        Faults on different processes may overlap; those on one process take turns.
        """
        turns = {p.name: asyncio.Lock() for p in self.processes}

        async def play_one(event: Event) -> None:
            if event.target is None:
                await asyncio.sleep(max(0.0, started + event.at - time.monotonic()))
                await self._restart_postgres()
                return
            async with turns[event.target.name]:
                due = max(started + event.at, event.target.ready_at + event.uptime)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self._kill(event.target)

        await asyncio.gather(*(play_one(event) for event in self.schedule()))

    async def _kill(self, process: HooklineProcess) -> None:
        async with self._hands[process.name]:
            if process.alive():
                pid = process.kill9()
                self.kills.append(Kill(time.time(), pid, process.name, process.sends))
            await self._come_back(process)

    async def _come_back(self, process: HooklineProcess) -> None:
        """Restart ``process`` until it runs; a process that never does is a failure."""
        deadline = time.monotonic() + COME_BACK_WITHIN
        last = ""
        while time.monotonic() < deadline:
            try:
                await process.start(timeout=max(1.0, deadline - time.monotonic()))
            except StartError as error:
                last = str(error)
                await asyncio.sleep(0.5)  # PostgreSQL may be restarting: try again
                continue
            self.restarts += 1
            return
        self.problems.append(f"{process.name} did not come back in {COME_BACK_WITHIN:.0f}s: {last}")

    async def _restart_postgres(self) -> None:
        assert self.cluster is not None
        start = time.time()
        try:
            await asyncio.to_thread(postgres.restart, self.cluster)
            end = await asyncio.to_thread(postgres.wait_until_up, self.database_url, 60.0)
        except (postgres.PostgresError, OSError) as error:
            self.problems.append(f"PostgreSQL restart failed: {error}")
            return
        self.outages.append(Outage(start, end))

    async def watch(self) -> None:
        """Until cancelled: restart any process that exited or began to stop by itself.

        Either is a failure, recorded; the process is (stopped and) restarted so that
        the run goes on and finds out whatever else there is to find.
        """
        while True:
            await asyncio.sleep(_WATCH_EVERY)
            for process in self.processes:
                hands = self._hands[process.name]
                if hands.locked() or process.process is None:
                    continue
                if process.alive() and not any(a in process.new_output() for a in _ALARMS):
                    continue
                async with hands:
                    await self._recover(process)

    async def _recover(self, process: HooklineProcess) -> None:
        """Record why ``process`` failed, stop what is left of it, and bring it back."""
        pid = process.pid
        if process.alive():
            # It is hanging in its shutdown: SIGTERM ends that, and out comes the traceback.
            await asyncio.to_thread(process.stop, 5.0)
            self.kills.append(Kill(time.time(), pid, process.name, process.sends, planned=False))
            what = "began shutting down though nobody stopped it"
        else:
            what = f"exited by itself with code {process.process and process.process.returncode}"
        self.problems.append(
            f"{process.name} (pid {pid}) {what} ({process.exception()}); see {process.log_path}"
        )
        await self._come_back(process)
