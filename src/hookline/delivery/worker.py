"""The delivery worker: claim due deliveries, send them signed, record what happened.

One worker is one asyncio task pulling from storage in batches, with up to
``concurrency`` requests in flight and at most ``endpoint_concurrency`` of them to
any one endpoint, so a slow endpoint holds only its own slots. Outcomes are
written back in batches by a recorder task: many attempts, one transaction.

The endpoint's controls are kept by storage (which deliveries may go, and when:
gates, FIFO heads, pace) and here (what one request carries: the payload shaped
for the endpoint's version and transformation, or a batch of several events).

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
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hookline import tracing
from hookline.domain import ids, signing
from hookline.domain.circuit import counts_as_failure
from hookline.domain.handlers import InboundEvent
from hookline.domain.models import Attempt, AttemptStatus, DeliveryStatus, TriggerType
from hookline.domain.outcome import (
    AttemptResult,
    Decision,
    ErrorClass,
    SentRequest,
    Verdict,
    decide,
    recorded_headers,
)
from hookline.domain.retry import RetryPolicy
from hookline.domain.routing import HANDLER_SCHEME
from hookline.domain.shaping import BATCH_SIZE_HEADER, Shaped, batch_body, shape
from hookline.domain.transform import CostExceeded, TransformError
from hookline.errors import HooklineError
from hookline.metrics import METRICS, status_class
from hookline.settings import Settings
from hookline.storage.base import ClaimedDelivery, Outcome, Storage

from .handlers import HandlerRunner
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


#: Transformation cost units a delivery may spend on the event loop (a few milliseconds
#: at most); one that needs more runs again on a thread with its full budget.
INLINE_TRANSFORM_COST = 5_000

#: The longest a claimed request waits out another request's 429 (seconds).
MAX_LOCAL_HOLD = 10.0


def worker_name() -> str:
    """A name unique to this process, recorded as the lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


class DeliveryWorker:
    """Claims, sends and records deliveries until stopped."""

    def __init__(
        self,
        storage: Storage,
        transport: Transport,
        config: WorkerConfig,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        handlers: HandlerRunner | None = None,
    ) -> None:
        self.storage = storage
        self.transport = transport
        self.handlers = handlers or HandlerRunner(None, timeout=60.0)
        self.config = config
        self.name = name or worker_name()
        self.clock = clock
        self.random = random
        self._in_flight: dict[str, ClaimedDelivery] = {}
        #: Requests in the slow lane (unanswered after ``slow_after``), by their first
        #: delivery's id, with their deliveries: they no longer count against
        #: ``concurrency``.
        self._slow: dict[str, int] = {}
        self._slow_deliveries = 0
        self._slow_timers: dict[str, asyncio.TimerHandle] = {}
        self._per_endpoint: Counter[str] = Counter()
        #: Each task's deliveries (several for a batch).
        self._tasks: dict[asyncio.Task[None], list[str]] = {}
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._waiting_for_slot = False
        self._stopping = asyncio.Event()
        self._policies: dict[tuple[float, ...], RetryPolicy] = {}
        #: Endpoints at their cap at the last claim: a slot of theirs frees work.
        self._blocked: set[str] = set()
        self._refill_at = max(1, min(config.claim_batch, config.concurrency) // 4)
        #: Recent send times per endpoint: the pace it took, should it answer 429.
        self._sent: dict[str, deque[float]] = {}
        #: Endpoints that answered 429 here, held until their Retry-After ends: requests
        #: already booked for them wait, rather than meet another 429.
        self._hold_until: dict[str, float] = {}
        self._next_probe_check = 0.0

    # the main loop ----------------------------------------------------------

    async def run(self) -> None:
        """Deliver until ``stop()``; then finish or release what is in flight."""
        recorder = asyncio.create_task(self._record_loop(), name="hookline-recorder")
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
            self._outcome_ready.set()
            self._stopping.set()
            await recorder

    def stop(self) -> None:
        """Ask the worker to stop claiming and shut down."""
        self._stopping.set()
        self._slot_freed.set()

    @property
    def _free(self) -> int:
        return self.config.concurrency - len(self._in_flight) + self._slow_deliveries

    async def _claim_and_send(self) -> None:
        if self._free < self._refill_at and self._in_flight:
            # Claim in batches: waiting for a quarter of the slots to free up costs a
            # few milliseconds and saves a claim transaction per finished delivery.
            self._waiting_for_slot = True
            await self._nap(self.config.poll_interval)
            return
        cap = self.config.endpoint_concurrency
        now = self.clock()
        if now >= self._next_probe_check:
            # Circuits whose cool-down is over get their probe (once a second is plenty).
            self._next_probe_check = now + 1.0
            await self.storage.start_probes(now)
        wanted = min(self._free, self.config.claim_batch)
        claimed = await self.storage.claim(
            self.name, now, now + self.config.lease_seconds, wanted, dict(self._per_endpoint), cap
        )
        overflow: list[str] = []
        for group in _requests(claimed):
            if self._per_endpoint[group[0].endpoint_id] >= self.config.endpoint_concurrency:
                overflow.extend(d.id for d in group)
                continue
            self._start(group)
        # Endpoints now at their cap: their due work waits for one of their slots.
        self._blocked = {ep for ep, n in self._per_endpoint.items() if n >= cap}
        if overflow:
            # Only a race can get here (the claim respects the caps): give them back.
            await self.storage.release(self.name, overflow)
        if len(claimed) < wanted or overflow:
            await self._idle(blocked=bool(self._blocked))

    async def _idle(self, blocked: bool) -> None:
        """Nap until work may be due: a wake-up, a freed slot, or the next due time.

        ``blocked`` says some endpoints were skipped for being at their cap: due
        work of theirs must wait for one of their slots, not be polled for.
        """
        # Listen for freed slots already while asking: deliveries that finish during the
        # query must wake the nap (else it sleeps the whole poll interval, slots free).
        self._waiting_for_slot = True
        next_due = await self.storage.next_due()
        timeout = self.config.poll_interval
        if next_due is not None:
            until_due = next_due - self.clock()
            if until_due <= 0 and not blocked:
                return  # due work appeared since the claim: go and claim it
            timeout = min(timeout, max(until_due, 0.0)) or self.config.poll_interval
        self._waiting_for_slot = blocked
        await self._nap(timeout)

    async def _nap(self, timeout: float) -> None:
        wake = asyncio.create_task(self.storage.wait_for_work(timeout))
        slot = asyncio.create_task(self._slot_freed.wait())
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({wake, slot, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (wake, slot, stop):
                task.cancel()
            self._slot_freed.clear()

    # one delivery --------------------------------------------------------------

    def _start(self, group: list[ClaimedDelivery]) -> None:
        """Send one request: one delivery, or a batch of one endpoint's deliveries."""
        for delivery in group:
            self._in_flight[delivery.id] = delivery
        self._per_endpoint[group[0].endpoint_id] += 1
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
        if task.done() or not deliveries:
            return
        if self._slow_deliveries + deliveries > self.config.concurrency // 2:
            return
        self._slow[key] = deliveries
        self._slow_deliveries += deliveries
        if self._waiting_for_slot and self._free >= self._refill_at:
            self._waiting_for_slot = False
            self._slot_freed.set()

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
            outcomes = [self._outcome(d, crashed, self.clock()) for d in group]
        finally:
            self._finished(group)
        self._outcomes.extend(outcomes)
        self._outcome_ready.set()

    async def _fill_batch(self, group: list[ClaimedDelivery]) -> list[ClaimedDelivery]:
        """Top a batch up with the endpoint's events still inside their wait."""
        batching = group[0].controls.batching
        assert batching is not None
        room = batching.max_size - len(group)
        if room <= 0 or group[0].attempts > 0:
            return group
        now = self.clock()
        more = await self.storage.claim_batch(
            self.name, group[0].endpoint_id, now - batching.max_wait - 1.0,
            [d.id for d in group], room, now + self.config.lease_seconds,
        )  # fmt: skip
        task = asyncio.current_task()
        for delivery in more:
            self._in_flight[delivery.id] = delivery
            if task in self._tasks:
                self._tasks[task].append(delivery.id)
        return group + more

    def _finished(self, group: list[ClaimedDelivery]) -> None:
        endpoint_id = group[0].endpoint_id
        timer = self._slow_timers.pop(group[0].id, None)
        if timer is not None:
            timer.cancel()
        self._slow_deliveries -= self._slow.pop(group[0].id, 0)
        for delivery in group:
            self._in_flight.pop(delivery.id, None)
        self._per_endpoint[endpoint_id] -= 1
        if self._per_endpoint[endpoint_id] <= 0:
            del self._per_endpoint[endpoint_id]
        if self._waiting_for_slot and (
            endpoint_id in self._blocked or self._free >= self._refill_at
        ):
            self._waiting_for_slot = False
            self._slot_freed.set()

    async def _attempt(self, group: list[ClaimedDelivery]) -> list[Outcome]:
        first = group[0]
        if first.endpoint_disabled:
            return [
                Outcome(
                    delivery_id=d.id,
                    endpoint_id=d.endpoint_id,
                    status=DeliveryStatus.HELD,
                    next_attempt_at=None,
                    attempt=None,
                    order_key=d.order_key,
                )
                for d in group
            ]
        ready_at = max(first.send_at or 0.0, self._hold_until.get(first.endpoint_id, 0.0))
        while ready_at > self.clock():
            await asyncio.sleep(ready_at - self.clock())  # the endpoint's pace, or a 429's hold
            ready_at = self._hold_until.get(first.endpoint_id, 0.0)
        sent_at = self.clock()
        result, sent = await self._send(group, sent_at)
        if result.status_code == 429:
            # Longer holds are the stored pace's business (claims book after it); requests
            # already claimed wait a little, never long enough to outlive their lease.
            hold = self.clock() + min(result.retry_after or 1.0, MAX_LOCAL_HOLD)
            self._hold_until[first.endpoint_id] = max(
                hold, self._hold_until.get(first.endpoint_id, 0.0)
            )
        elif self._hold_until.get(first.endpoint_id, 0.0) < sent_at:
            self._hold_until.pop(first.endpoint_id, None)
        return [self._outcome(d, result, sent_at, sent) for d in group]

    async def _send(
        self, group: list[ClaimedDelivery], sent_at: float
    ) -> tuple[AttemptResult, SentRequest | None]:
        """Send the group's request; what came back, and what was sent (None: nothing)."""
        first = group[0]
        if first.problem is not None:
            # Never sent unsigned: recorded as a failed attempt, retried on its schedule.
            return AttemptResult(
                status_code=0, response_body=first.problem, response_headers={},
                duration_ms=0, error_class=ErrorClass.SECRET_UNREADABLE,
            ), None  # fmt: skip
        if first.url.startswith(HANDLER_SCHEME):
            event = InboundEvent(
                id=first.msg_id, event_type=first.event_type, body=first.payload,
                app_id=first.app_id, headers=first.message_headers or {},
                attempt=first.attempts + 1,
            )  # fmt: skip
            return await self.handlers.run(first.url, event), None
        try:
            try:
                # On the event loop within a small budget (a usual transformation costs a
                # few hundred units, some microseconds)...
                shaped = _shape_all(group, INLINE_TRANSFORM_COST)
            except CostExceeded:
                # ...and a costly one (up to its full budget, ~0.25 s) on a thread, so it
                # delays only this request, not every other one on the loop.
                shaped = await asyncio.to_thread(_shape_all, group, None)
        except TransformError as error:
            return AttemptResult(
                status_code=0, response_body=f"transformation failed: {error}",
                response_headers={}, duration_ms=0, error_class=ErrorClass.TRANSFORM,
            ), None  # fmt: skip
        if len(group) == 1 and first.controls.batching is None:
            body, msg_id, extra = shaped[0].body, first.msg_id, shaped[0].headers
        else:
            body = batch_body(
                [(d.msg_id, d.event_type, s.body) for d, s in zip(group, shaped, strict=True)]
            )
            msg_id = ids.new_id(ids.BATCH, sent_at)
            extra = _batch_headers(shaped)
        self._sent.setdefault(first.endpoint_id, deque(maxlen=512)).append(sent_at)
        headers = self._headers(first, sent_at, msg_id, body, extra)
        traced = {
            "hookline.msg_id": msg_id, "hookline.endpoint_id": first.endpoint_id,
            "hookline.attempt": first.attempts + 1, "hookline.batch_size": len(group),
        }  # fmt: skip
        with tracing.attempt_span(first.trace_parent, traced) as (trace_headers, span):
            if trace_headers:
                headers = {**headers, **trace_headers}
            result = await self.transport.send(first.url, body, headers)
            tracing.record_outcome(span, result.status_code, result.error_class)
        # A batch's body holds other messages: each attempt records only the headers.
        reshaped = len(group) == 1 and first.controls.batching is None and body is not first.payload
        custom = (*first.headers, *(first.message_headers or ()))
        return result, SentRequest(
            recorded_headers(headers, custom), body.decode() if reshaped else None
        )

    def _outcome(
        self, delivery: ClaimedDelivery, result: AttemptResult, sent_at: float,
        sent: SentRequest | None = None,
    ) -> Outcome:  # fmt: skip
        now = self.clock()
        attempts_made = delivery.attempts + 1
        endpoints_fault = result.error_class not in _NOT_THE_ENDPOINTS_FAULT
        if result.error_class is ErrorClass.TRANSFORM:
            # The same payload fails the same way every time: no retries. Fix the
            # transformation, then recover the endpoint's failed messages.
            decision = Decision(Verdict.FAILED, reason="transformation failed")
        else:
            decision = decide(
                result,
                attempts_made,
                self._policy(delivery.retry_schedule),
                now,
                delivery.failing_since if endpoints_fault else None,
                self.config.disable_after,
                self.random,
            )
        self._log(delivery, result, attempts_made, decision)
        METRICS.attempts.labels(decision.verdict.value, status_class(result.status_code)).inc()
        METRICS.attempt_seconds.observe(result.duration_ms / 1000)
        if decision.disable_endpoint:
            METRICS.endpoints_disabled_by_worker.inc()
        breaker = delivery.controls.breaker
        tripped = None
        if breaker is not None and endpoints_fault:
            tripped = counts_as_failure(result.status_code, result.error_class)
        throttled = None
        if result.status_code == 429:
            throttled = result.retry_after or 0.0
        health = None
        if endpoints_fault:
            health = "ok" if result.succeeded else "failing"
        return Outcome(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            status=_STATUS_OF[decision.verdict],
            next_attempt_at=decision.next_attempt_at,
            attempt=self._attempt_record(delivery, result, sent_at, sent),
            endpoint_health=health,
            disable_endpoint=decision.disable_endpoint,
            breaker=breaker,
            tripped=tripped,
            throttled=throttled,
            rate_limit=delivery.rate_limit,
            observed_rate=self._observed_rate(delivery.endpoint_id, now)
            if throttled is not None
            else 0.0,
            order_key=delivery.order_key,
            attempt_number=attempts_made,
        )

    def _observed_rate(self, endpoint_id: str, now: float) -> float:
        """Requests this worker sent the endpoint in the last second."""
        sent = self._sent.get(endpoint_id, ())
        return float(sum(1 for at in sent if at > now - 1.0))

    def _headers(
        self, delivery: ClaimedDelivery, now: float, msg_id: str, body: bytes,
        extra: dict[str, str],
    ) -> dict[str, str]:  # fmt: skip
        # An old secret signs until the exact end of its grace period (not the end of
        # that second: the signed timestamp is whole seconds, the grace period is not).
        secrets = [delivery.secret]
        secrets += [
            k.secret for k in delivery.old_secrets if k.expires_at is None or k.expires_at > now
        ]
        received = delivery.message_headers
        if received:
            # A received (inbound) event is forwarded with the headers it came with,
            # then the endpoint's own; its content type stays what the provider sent.
            headers = {
                **received,
                **delivery.headers,
                **extra,
                "content-type": received.get("content-type", "application/json"),
                "user-agent": self.config.user_agent,
            }
            if body is not delivery.payload:
                headers["content-type"] = "application/json"  # reshaped or batched: JSON
        else:
            headers = {
                **delivery.headers,
                **extra,
                "content-type": "application/json",
                "user-agent": self.config.user_agent,
            }
        headers.update(
            signing.headers(
                secrets, msg_id, int(now), body, svix_headers=self.config.send_svix_headers
            )
        )
        return headers

    def _policy(self, schedule: tuple[float, ...] | None) -> RetryPolicy:
        if schedule is None:
            return self.config.retry_policy
        policy = self._policies.get(schedule)
        if policy is None:
            base = self.config.retry_policy
            policy = RetryPolicy(schedule, base.jitter, base.max_retry_after)
            self._policies[schedule] = policy
        return policy

    def _attempt_record(
        self, delivery: ClaimedDelivery, result: AttemptResult, sent_at: float,
        sent: SentRequest | None,
    ) -> Attempt:  # fmt: skip
        return Attempt(
            id=ids.new_id(ids.ATTEMPT, sent_at),
            delivery_id=delivery.id,
            msg_id=delivery.msg_id,
            endpoint_id=delivery.endpoint_id,
            app_id=delivery.app_id,
            url=delivery.url,
            status=AttemptStatus.SUCCESS if result.succeeded else AttemptStatus.FAIL,
            response_status_code=result.status_code,
            response=result.response_body,
            response_headers=result.response_headers,
            duration_ms=result.duration_ms,
            error_class=None if result.error_class is None else str(result.error_class),
            trigger_type=TriggerType.MANUAL if delivery.manual else TriggerType.SCHEDULED,
            created_at=sent_at,
            request_headers={} if sent is None else sent.headers,
            request_body=None if sent is None else sent.body,
        )

    def _log(
        self, delivery: ClaimedDelivery, result: AttemptResult, attempt: int, decision: Decision
    ) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "attempt",
            extra={
                "msg_id": delivery.msg_id,
                "event_type": delivery.event_type,
                "app_id": delivery.app_id,
                "endpoint_id": delivery.endpoint_id,
                "attempt": attempt,
                "status_code": result.status_code,
                "duration_ms": result.duration_ms,
                "error_class": result.error_class,
                "verdict": str(decision.verdict),
            },
        )

    # recording ------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        backoff = 0.1
        failures_while_stopping = 0
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            if not self._outcomes:
                if self._stopping.is_set() and not self._tasks:
                    return
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                await self.storage.record(self.name, batch, self.clock())
                backoff = 0.1
            except HooklineError as error:
                # Keep the outcomes and try again: losing them would re-send deliveries
                # that already succeeded once their leases ran out.
                logger.warning("recording outcomes failed; retrying", extra={"error": error.detail})
                if self._stopping.is_set():
                    failures_while_stopping += 1
                    if failures_while_stopping > 5:
                        # Their leases will lapse and the deliveries be sent again: at-least-once.
                        logger.error(
                            "giving up recording outcomes at shutdown", extra={"count": len(batch)}
                        )
                        return
                self._outcomes[:0] = batch
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._outcome_ready.set()
            if self._stopping.is_set() and not self._tasks and not self._outcomes:
                return

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
                await self.storage.release(self.name, unfinished)


def _requests(claimed: list[ClaimedDelivery]) -> list[list[ClaimedDelivery]]:
    """Claimed deliveries grouped into requests: a batching endpoint's due deliveries
    (up to its batch size) share one, every other delivery has its own."""
    requests: list[list[ClaimedDelivery]] = []
    open_batch: dict[str, list[ClaimedDelivery]] = {}
    for delivery in claimed:
        batching = delivery.controls.batching
        if batching is None or delivery.url.startswith(HANDLER_SCHEME):
            requests.append([delivery])
            continue
        group = open_batch.get(delivery.endpoint_id)
        if group is None or len(group) >= batching.max_size:
            group = open_batch[delivery.endpoint_id] = []
            requests.append(group)
        group.append(delivery)
    return requests


def _shape_all(group: list[ClaimedDelivery], max_cost: int | None) -> list[Shaped]:
    return [
        shape(d.payload, d.version, d.versioning, d.controls.transformation, max_cost)
        for d in group
    ]


def _batch_headers(shaped: list[Shaped]) -> dict[str, str]:
    """A batch's headers: what its events' shaping added (the first's), and its size."""
    headers = dict(shaped[0].headers)
    headers[BATCH_SIZE_HEADER] = str(len(shaped))
    return headers


#: Failures that say nothing about the endpoint: they neither make it "failing" nor
#: count in its circuit breaker.
_NOT_THE_ENDPOINTS_FAULT = frozenset(
    {ErrorClass.TRANSFORM, ErrorClass.SECRET_UNREADABLE, ErrorClass.NO_HANDLER}
)

_STATUS_OF = {
    Verdict.SUCCEEDED: DeliveryStatus.SUCCESS,
    Verdict.RETRY: DeliveryStatus.PENDING,
    Verdict.FAILED: DeliveryStatus.FAILED,
}
