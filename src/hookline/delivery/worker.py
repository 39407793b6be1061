"""The delivery worker: claim due deliveries, send them signed, record what happened.

One worker is one asyncio task pulling from storage in batches, with up to
``concurrency`` requests in flight and at most ``endpoint_concurrency`` of them to
any one endpoint, so a slow endpoint holds only its own slots. Outcomes are
written back in batches by a recorder task: many attempts, one transaction.

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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from hookline.domain import ids, signing
from hookline.domain.handlers import InboundEvent
from hookline.domain.models import Attempt, AttemptStatus, DeliveryStatus, TriggerType
from hookline.domain.outcome import AttemptResult, Decision, ErrorClass, Verdict, decide
from hookline.domain.retry import RetryPolicy
from hookline.domain.routing import HANDLER_SCHEME
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
            claim_batch=settings.claim_batch,
            lease_seconds=settings.lease_seconds,
            poll_interval=settings.poll_interval,
            shutdown_grace=settings.shutdown_grace,
            disable_after=settings.disable_after,
            retry_policy=settings.retry_policy,
            send_svix_headers=settings.send_svix_headers,
            user_agent=settings.user_agent,
        )


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
        self._per_endpoint: Counter[str] = Counter()
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._waiting_for_slot = False
        self._stopping = asyncio.Event()
        self._policies: dict[tuple[float, ...], RetryPolicy] = {}
        #: Endpoints at their cap at the last claim: a slot of theirs frees work.
        self._blocked: set[str] = set()
        self._refill_at = max(1, min(config.claim_batch, config.concurrency) // 4)

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
        return self.config.concurrency - len(self._in_flight)

    async def _claim_and_send(self) -> None:
        if self._free < self._refill_at and self._in_flight:
            # Claim in batches: waiting for a quarter of the slots to free up costs a
            # few milliseconds and saves a claim transaction per finished delivery.
            self._waiting_for_slot = True
            await self._nap(self.config.poll_interval)
            return
        cap = self.config.endpoint_concurrency
        now = self.clock()
        wanted = min(self._free, self.config.claim_batch)
        claimed = await self.storage.claim(
            self.name, now, now + self.config.lease_seconds, wanted, dict(self._per_endpoint), cap
        )
        overflow = []
        for delivery in claimed:
            if self._per_endpoint[delivery.endpoint_id] >= self.config.endpoint_concurrency:
                overflow.append(delivery.id)
                continue
            self._start(delivery)
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

    def _start(self, delivery: ClaimedDelivery) -> None:
        self._in_flight[delivery.id] = delivery
        self._per_endpoint[delivery.endpoint_id] += 1
        task = asyncio.create_task(self._deliver(delivery))
        self._tasks[task] = delivery.id
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        try:
            outcome = await self._attempt(delivery)
        except Exception as error:
            # A bug must not strand the delivery until its lease lapses: log it and
            # record a failed attempt, so the retry schedule and the log carry on.
            logger.exception("delivery attempt crashed", extra={"msg_id": delivery.msg_id})
            outcome = self._outcome(
                delivery,
                AttemptResult(
                    0, f"internal error: {type(error).__name__}", {}, 0, ErrorClass.ERROR
                ),
                self.clock(),
            )
        finally:
            self._finished(delivery)
        self._outcomes.append(outcome)
        self._outcome_ready.set()

    def _finished(self, delivery: ClaimedDelivery) -> None:
        self._in_flight.pop(delivery.id, None)
        self._per_endpoint[delivery.endpoint_id] -= 1
        if self._per_endpoint[delivery.endpoint_id] <= 0:
            del self._per_endpoint[delivery.endpoint_id]
        if self._waiting_for_slot and (
            delivery.endpoint_id in self._blocked or self._free >= self._refill_at
        ):
            self._waiting_for_slot = False
            self._slot_freed.set()

    async def _attempt(self, delivery: ClaimedDelivery) -> Outcome:
        if delivery.endpoint_disabled:
            return Outcome(
                delivery_id=delivery.id,
                endpoint_id=delivery.endpoint_id,
                status=DeliveryStatus.HELD,
                next_attempt_at=None,
                attempt=None,
            )
        sent_at = self.clock()
        if delivery.problem is not None:
            # Never sent unsigned: recorded as a failed attempt, retried on its schedule.
            result = AttemptResult(
                status_code=0, response_body=delivery.problem, response_headers={},
                duration_ms=0, error_class=ErrorClass.SECRET_UNREADABLE,
            )  # fmt: skip
        elif delivery.url.startswith(HANDLER_SCHEME):
            event = InboundEvent(
                id=delivery.msg_id, event_type=delivery.event_type, body=delivery.payload,
                app_id=delivery.app_id, headers=delivery.message_headers or {},
                attempt=delivery.attempts + 1,
            )  # fmt: skip
            result = await self.handlers.run(delivery.url, event)
        else:
            result = await self.transport.send(
                delivery.url, delivery.payload, self._headers(delivery, sent_at)
            )
        return self._outcome(delivery, result, sent_at)

    def _outcome(self, delivery: ClaimedDelivery, result: AttemptResult, sent_at: float) -> Outcome:
        now = self.clock()
        attempts_made = delivery.attempts + 1
        decision = decide(
            result,
            attempts_made,
            self._policy(delivery.retry_schedule),
            now,
            delivery.failing_since,
            self.config.disable_after,
            self.random,
        )
        self._log(delivery, result, attempts_made, decision)
        METRICS.attempts.labels(decision.verdict.value, status_class(result.status_code)).inc()
        METRICS.attempt_seconds.observe(result.duration_ms / 1000)
        if decision.disable_endpoint:
            METRICS.endpoints_disabled_by_worker.inc()
        return Outcome(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            status=_STATUS_OF[decision.verdict],
            next_attempt_at=decision.next_attempt_at,
            attempt=self._attempt_record(delivery, result, sent_at),
            endpoint_health="ok" if result.succeeded else "failing",
            disable_endpoint=decision.disable_endpoint,
        )

    def _headers(self, delivery: ClaimedDelivery, now: float) -> dict[str, str]:
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
                "content-type": received.get("content-type", "application/json"),
                "user-agent": self.config.user_agent,
            }
        else:
            headers = {
                **delivery.headers,
                "content-type": "application/json",
                "user-agent": self.config.user_agent,
            }
        headers.update(
            signing.headers(
                secrets,
                delivery.msg_id,
                int(now),
                delivery.payload,
                svix_headers=self.config.send_svix_headers,
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
        self, delivery: ClaimedDelivery, result: AttemptResult, sent_at: float
    ) -> Attempt:
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
        unfinished = [self._tasks[task] for task in pending if task in self._tasks]
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
        if unfinished:
            with contextlib.suppress(HooklineError):
                await self.storage.release(self.name, unfinished)


_STATUS_OF = {
    Verdict.SUCCEEDED: DeliveryStatus.SUCCESS,
    Verdict.RETRY: DeliveryStatus.PENDING,
    Verdict.FAILED: DeliveryStatus.FAILED,
}
