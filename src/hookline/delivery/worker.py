"""The delivery worker: claim due deliveries, send them, record what happened.

One worker is one asyncio task pulling from a ``DeliveryQueue`` in batches, with up
to ``concurrency`` requests in flight and at most ``endpoint_concurrency`` of them
to any one endpoint (``slots.py``: the accounting, with the slow lane), so a slow
endpoint holds only its own slots. Each request goes through the channel of its
endpoint's kind (``channels.py``: HTTP, in-process handlers); what follows it is
``domain.policy``'s decision, and a recorder writes the outcomes back in batches
(``recorder.py``): many attempts, one transaction.

The endpoint's controls are kept by storage (which deliveries may go, and when:
gates, FIFO heads, pace) and by the channel (what one request carries: the payload
shaped for the endpoint's version and transformation, or a batch of several events).

Crash safety comes from the lease: a claimed delivery is due again at the end
of its lease unless its outcome was recorded, so a killed worker's deliveries
come back to whichever worker claims next (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random as _random
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hookline.domain.outcome import AttemptResult, ErrorClass, SentRequest, Verdict
from hookline.domain.policy import VERDICT_OF, DeliveryPolicy
from hookline.domain.retry import RetryPolicy
from hookline.errors import HooklineError
from hookline.metrics import METRICS, destination_kind, status_class
from hookline.settings import Settings
from hookline.storage.base import ClaimedDelivery, Outcome
from hookline.storage.ports import DeliveryQueue

from .channels import Channels, DeliveryChannel, standard_channels
from .handlers import HandlerRunner
from .recorder import Recorder
from .request import RequestConfig, requests
from .slots import Slots
from .transport import Transport

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker needs from the settings."""

    concurrency: int = 512
    endpoint_concurrency: int = 16
    #: A request unanswered after this long leaves ``concurrency`` for the slow lane,
    #: which holds up to ``concurrency // 2`` requests (0: no slow lane).
    slow_after: float = 0.5
    claim_batch: int = 256
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    shutdown_grace: float = 10.0
    disable_after: float = 5 * 86400
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    send_svix_headers: bool = True
    user_agent: str = "hookline-webhooks/0.1"

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        """Pick the worker's fields out of the settings."""
        return cls(
            concurrency=settings.worker_concurrency,
            endpoint_concurrency=settings.endpoint_concurrency,
            slow_after=settings.slow_after,
            claim_batch=settings.claim_batch,
            lease_seconds=settings.lease_seconds,
            poll_interval=settings.poll_interval,
            shutdown_grace=settings.shutdown_grace,
            disable_after=settings.disable_after,
            retry_policy=settings.retry_policy,
            send_svix_headers=settings.send_svix_headers,
            user_agent=settings.user_agent,
        )


#: The longest a claimed request waits out another request's 429 (seconds).
MAX_LOCAL_HOLD = 10.0


def worker_name() -> str:
    """A name unique to this process, recorded as the lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


class DeliveryWorker:
    """Claims, sends and records deliveries until stopped.

    It sends HTTP through ``transport``, ``handler:`` endpoints through ``handlers`` and
    destinations through the channels ``destinations`` (by kind), unless given its
    ``channels`` (then none of those is used).
    """

    def __init__(
        self,
        queue: DeliveryQueue,
        transport: Transport,
        config: WorkerConfig,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        handlers: HandlerRunner | None = None,
        channels: Channels | None = None,
        destinations: Mapping[str, DeliveryChannel] | None = None,
    ) -> None:
        self.queue = queue
        self.config = config
        self.name = name or worker_name()
        self.clock = clock
        self.channels = channels or standard_channels(
            transport,
            handlers or HandlerRunner(None, timeout=60.0),
            RequestConfig(config.user_agent, config.send_svix_headers),
            destinations,
        )
        self.policy = DeliveryPolicy(random, config.retry_policy, config.disable_after)
        self.slots = Slots(config.concurrency, config.endpoint_concurrency, config.claim_batch)
        self._slow_timers: dict[str, asyncio.TimerHandle] = {}
        #: Each task's deliveries (several for a batch).
        self._tasks: dict[asyncio.Task[None], list[str]] = {}
        self.recorder = Recorder(queue, self.name, clock, lambda: bool(self._tasks))
        self._slot_freed = asyncio.Event()
        self._waiting_for_slot = False
        self._stopping = asyncio.Event()
        #: Recent send times per endpoint: the pace it took, should it answer 429.
        self._sent: dict[str, deque[float]] = {}
        #: Endpoints that answered 429 here, held until their Retry-After ends: requests
        #: already booked for them wait, rather than meet another 429.
        self._hold_until: dict[str, float] = {}
        self._next_probe_check = 0.0

    # the main loop ----------------------------------------------------------

    async def run(self) -> None:
        """Deliver until ``stop()``; then finish or release what is in flight."""
        recorder = asyncio.create_task(self.recorder.run(), name="hookline-recorder")
        try:
            while not self._stopping.is_set():
                try:
                    await self._claim_and_send()
                except HooklineError as error:
                    logger.warning("claim failed; retrying", extra={"error": error.detail})
                    await self._nap(self.config.poll_interval)
                except Exception:
                    # A bug in one claim must not stop delivery: log it and claim again.
                    logger.exception("claim crashed; retrying")
                    await self._nap(self.config.poll_interval)
        finally:
            await self._drain()
            self._stopping.set()
            self.recorder.stop()
            await recorder

    def stop(self) -> None:
        """Ask the worker to stop claiming and shut down."""
        self._stopping.set()
        self.recorder.stopping.set()
        self._slot_freed.set()

    async def _claim_and_send(self) -> None:
        slots = self.slots
        if slots.should_wait():
            # Claim in batches: waiting for a quarter of the slots to free up costs a
            # few milliseconds and saves a claim transaction per finished delivery.
            self._waiting_for_slot = True
            await self._nap(self.config.poll_interval)
            return
        now = self.clock()
        if now >= self._next_probe_check:
            # Circuits whose cool-down is over get their probe (once a second is plenty).
            self._next_probe_check = now + 1.0
            await self.queue.start_probes(now)
        wanted = slots.wanted()
        claimed = await self.queue.claim(
            self.name, now, now + self.config.lease_seconds, wanted, slots.busy(),
            slots.endpoint_concurrency,
        )  # fmt: skip
        overflow: list[str] = []
        for group in requests(claimed, self.channels.batches):
            if slots.at_cap(group[0].endpoint_id):
                overflow.extend(d.id for d in group)
                continue
            self._start(group)
        # Endpoints now at their cap: their due work waits for one of their slots.
        slots.claimed()
        if overflow:
            # Only a race can get here (the claim respects the caps): give them back.
            await self.queue.release(self.name, overflow)
        if len(claimed) < wanted or overflow:
            await self._idle(blocked=bool(slots.blocked))

    async def _idle(self, blocked: bool) -> None:
        """Nap until work may be due: a wake-up, a freed slot, or the next due time.

        ``blocked`` says some endpoints were skipped for being at their cap: due
        work of theirs must wait for one of their slots, not be polled for.
        """
        # Listen for freed slots already while asking: deliveries that finish during the
        # query must wake the nap (else it sleeps the whole poll interval, slots free).
        self._waiting_for_slot = True
        next_due = await self.queue.next_due()
        timeout = self.config.poll_interval
        if next_due is not None:
            until_due = next_due - self.clock()
            if until_due <= 0 and not blocked:
                return  # due work appeared since the claim: go and claim it
            timeout = min(timeout, max(until_due, 0.0)) or self.config.poll_interval
        self._waiting_for_slot = blocked
        await self._nap(timeout)

    async def _nap(self, timeout: float) -> None:
        wake = asyncio.create_task(self.queue.wait_for_work(timeout))
        slot = asyncio.create_task(self._slot_freed.wait())
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({wake, slot, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (wake, slot, stop):
                task.cancel()
            self._slot_freed.clear()

    def _wake_for_slot(self) -> None:
        self._waiting_for_slot = False
        self._slot_freed.set()

    # one request --------------------------------------------------------------

    def _start(self, group: list[ClaimedDelivery]) -> None:
        """Send one request: one delivery, or a batch of one endpoint's deliveries."""
        self.slots.start(group[0].endpoint_id, len(group))
        task = asyncio.create_task(self._deliver(group))
        self._tasks[task] = [d.id for d in group]
        task.add_done_callback(self._forget)
        if self.config.slow_after > 0:
            self._slow_timers[group[0].id] = asyncio.get_running_loop().call_later(
                self.config.slow_after, self._to_slow_lane, group[0].id, task
            )

    def _to_slow_lane(self, key: str, task: asyncio.Task[None]) -> None:
        """A request still unanswered after ``slow_after``: its slot goes to other work.

        Its endpoint's own cap still holds, so one endpoint that hangs keeps at most
        ``endpoint_concurrency`` requests in flight; the lane holds half of
        ``concurrency`` at most, so requests in flight stay bounded.
        """
        self._slow_timers.pop(key, None)
        deliveries = len(self._tasks.get(task, ()))
        if task.done() or not deliveries or not self.slots.to_slow_lane(key, deliveries):
            return
        if self._waiting_for_slot and self.slots.claim_worthwhile():
            self._wake_for_slot()

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _deliver(self, group: list[ClaimedDelivery]) -> None:
        try:
            if group[0].controls.batching is not None:
                group = await self._fill_batch(group)
            outcomes = await self._attempt(group)
        except Exception as error:
            # A bug must not strand the delivery until its lease lapses: log it and
            # record a failed attempt, so the retry schedule and the log carry on.
            logger.exception("delivery attempt crashed", extra={"msg_id": group[0].msg_id})
            crashed = AttemptResult(
                0, f"internal error: {type(error).__name__}", {}, 0, ErrorClass.ERROR
            )
            now = self.clock()
            outcomes = [self._outcome(d, crashed, now) for d in group]
        finally:
            self._finished(group)
        self.recorder.add(outcomes)

    async def _fill_batch(self, group: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
        """Top a batch up with the endpoint's events still inside their wait."""
        batching = group[0].controls.batching
        assert batching is not None
        room = batching.max_size - len(group)
        if room <= 0 or group[0].attempts > 0 or not self.channels.batches(group[0]):
            return group
        now = self.clock()
        more = await self.queue.claim_batch(
            self.name, group[0].endpoint_id, now - batching.max_wait - 1.0,
            [d.id for d in group], room, now + self.config.lease_seconds,
        )  # fmt: skip
        if more:
            self.slots.grow(len(more))
            task = asyncio.current_task()
            if task in self._tasks:
                self._tasks[task].extend(d.id for d in more)
        return group + more

    def _finished(self, group: list[ClaimedDelivery]) -> None:
        timer = self._slow_timers.pop(group[0].id, None)
        if timer is not None:
            timer.cancel()
        frees_work = self.slots.finish(group[0].id, group[0].endpoint_id, len(group))
        if self._waiting_for_slot and frees_work:
            self._wake_for_slot()

    async def _attempt(self, group: list[ClaimedDelivery]) -> list[Outcome]:
        first = group[0]
        if first.endpoint_disabled:
            return [self.policy.held(d) for d in group]
        endpoint_id = first.endpoint_id
        ready_at = max(first.send_at or 0.0, self._hold_until.get(endpoint_id, 0.0))
        while ready_at > self.clock():
            await asyncio.sleep(ready_at - self.clock())  # the endpoint's pace, or a 429's hold
            ready_at = self._hold_until.get(endpoint_id, 0.0)
        sent_at = self.clock()
        sent: SentRequest | None = None
        if first.problem is not None:
            # Never sent unsigned: recorded as a failed attempt, retried on its schedule.
            result = AttemptResult(
                status_code=0, response_body=first.problem, response_headers={},
                duration_ms=0, error_class=ErrorClass.SECRET_UNREADABLE,
            )  # fmt: skip
        else:
            self._sent.setdefault(endpoint_id, deque(maxlen=512)).append(sent_at)
            result, sent = await self.channels.for_delivery(first).send(group, sent_at)
        if result.status_code == 429:
            # Longer holds are the stored pace's business (claims book after it); requests
            # already claimed wait a little, never long enough to outlive their lease.
            hold = self.clock() + min(result.retry_after or 1.0, MAX_LOCAL_HOLD)
            self._hold_until[endpoint_id] = max(hold, self._hold_until.get(endpoint_id, 0.0))
        elif self._hold_until.get(endpoint_id, 0.0) < sent_at:
            self._hold_until.pop(endpoint_id, None)
        now = self.clock()
        return [self._outcome(d, result, now, sent_at, sent) for d in group]

    def _outcome(
        self, delivery: ClaimedDelivery, result: AttemptResult, now: float,
        sent_at: float | None = None, sent: SentRequest | None = None,
    ) -> Outcome:  # fmt: skip
        observed = 0.0
        if result.status_code == 429:
            observed = self._observed_rate(delivery.endpoint_id, now)
        outcome = self.policy.after(
            delivery, result, now if sent_at is None else sent_at, now, sent, observed
        )
        verdict = VERDICT_OF[outcome.status]
        if logger.isEnabledFor(logging.INFO):
            _log(delivery, result, verdict)
        destination = delivery.destination
        kind = destination_kind(destination.kind if destination else None, delivery.url)
        METRICS.attempts.labels(verdict.value, status_class(result.status_code), kind).inc()
        METRICS.attempt_seconds.labels(kind).observe(result.duration_ms / 1000)
        if outcome.disabled is not None:
            METRICS.endpoints_disabled_by_worker.inc()
        return outcome

    def _observed_rate(self, endpoint_id: str, now: float) -> float:
        """Requests this worker sent the endpoint in the last second."""
        sent = self._sent.get(endpoint_id, ())
        return float(sum(1 for at in sent if at > now - 1.0))

    async def _drain(self) -> None:
        """On shutdown: let in-flight attempts finish within the grace, release the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.config.shutdown_grace)
        unfinished = [i for task in pending if task in self._tasks for i in self._tasks[task]]
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
        if unfinished:
            with contextlib.suppress(HooklineError):
                await self.queue.release(self.name, unfinished)


def _log(delivery: ClaimedDelivery, result: AttemptResult, verdict: Verdict) -> None:
    logger.info(
        "attempt",
        extra={
            "msg_id": delivery.msg_id,
            "event_type": delivery.event_type,
            "app_id": delivery.app_id,
            "endpoint_id": delivery.endpoint_id,
            "attempt": delivery.attempts + 1,
            "status_code": result.status_code,
            "duration_ms": result.duration_ms,
            "error_class": result.error_class,
            "verdict": str(verdict),
        },
    )
