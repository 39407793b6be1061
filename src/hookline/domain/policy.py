"""The delivery policy: everything that follows an attempt, decided in one pure place.

``DeliveryPolicy.after`` takes a claimed delivery, what its attempt produced and
the time, and returns the ``Outcome``: all that storage must persist for it. The
delivery's new status and next attempt time, the attempt record, the endpoint's
health, the observation for its circuit breaker, the slow-down after a 429, the
disable with its audit entry, and the operational events to publish. Storage
writes what it is told; it reads nothing back into the decision, except that the
stored circuit and pace (shared by every worker) are moved on under its lock by
the pure transitions below (``circuit_after``, ``pacing.throttled``).

``initial_status`` is the same for fan-out: the status and due time a new
delivery starts with.

To learn what a 429 does, read ``after``: the attempt is retried at its
Retry-After, it counts as a failure in the breaker, and the endpoint's pace is
halved (``Throttle``); the worker also holds that endpoint's other requests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hookline.domain import circuit as breaker
from hookline.domain import ids, operational
from hookline.domain.audit import AuditEntry
from hookline.domain.circuit import Circuit, CircuitState, counts_as_failure
from hookline.domain.controls import BreakerConfig, Controls
from hookline.domain.models import Attempt, AttemptStatus, DeliveryStatus, TriggerType
from hookline.domain.outcome import AttemptResult, ErrorClass, SentRequest, Verdict, decide
from hookline.domain.retry import RetryPolicy
from hookline.domain.routing import RouteTarget

#: Endpoint health as the outcome reports it (None: unchanged).
HEALTHY = "ok"
FAILING = "failing"

#: Who the audit trail names for what the worker changed.
WORKER_ACTOR = "hookline-worker"
AUTO_DISABLE_ACTION = "endpoint.disabled.automatic"

#: Failures that say nothing about the endpoint: they neither make it "failing" nor
#: count in its circuit breaker.
NOT_THE_ENDPOINTS_FAULT = frozenset(
    {ErrorClass.TRANSFORM, ErrorClass.SECRET_UNREADABLE, ErrorClass.NO_HANDLER}
)

STATUS_OF = {
    Verdict.SUCCEEDED: DeliveryStatus.SUCCESS,
    Verdict.RETRY: DeliveryStatus.PENDING,
    Verdict.FAILED: DeliveryStatus.FAILED,
}
#: The verdict an outcome's status stands for (for metrics and logs).
VERDICT_OF = {status: verdict for verdict, status in STATUS_OF.items()}


class Claimed(Protocol):
    """The parts of a claimed delivery the policy reads (``storage.ClaimedDelivery``)."""

    @property
    def id(self) -> str: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def endpoint_id(self) -> str: ...
    @property
    def app_id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def manual(self) -> bool: ...
    @property
    def retry_schedule(self) -> tuple[float, ...] | None: ...
    @property
    def failing_since(self) -> float | None: ...
    @property
    def controls(self) -> Controls: ...
    @property
    def order_key(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class CircuitObservation:
    """One attempt counted into its endpoint's breaker: a failure or a success."""

    config: BreakerConfig
    failed: bool


@dataclass(frozen=True, slots=True)
class Throttle:
    """A 429: slow the endpoint down (``pacing.throttled``), held until ``retry_after``.

    ``observed_rate`` is what this worker saw the endpoint take in the last second;
    storage takes the larger of it and what every worker sent.
    """

    retry_after: float | None
    observed_rate: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """What storage must persist for one claimed delivery.

    ``attempt`` is None when no request was made (the endpoint was found disabled,
    so the delivery is held). ``endpoint_health`` is "ok", "failing" or None
    (unchanged). ``disabled`` turns the endpoint off and holds its backlog; the
    entry is its audit record, written only if the endpoint was still on.
    """

    delivery_id: str
    endpoint_id: str
    status: DeliveryStatus
    next_attempt_at: float | None
    attempt: Attempt | None
    endpoint_health: str | None = None
    disabled: AuditEntry | None = None
    #: For the circuit breaker (None: the attempt does not count, or there is none).
    circuit: CircuitObservation | None = None
    #: A 429 answer: the endpoint's shared pace slows down.
    throttle: Throttle | None = None
    #: FIFO: the ordering key; a finished head lets the next of its key go.
    order_key: str | None = None
    #: Operational event types this outcome makes (``operational.ATTEMPT_*``, and
    #: ``ENDPOINT_DISABLED`` when ``disabled`` took effect); storage fills in the names
    #: only it holds (the application's uid, the message's event id).
    operational: tuple[str, ...] = ()


class DeliveryPolicy:
    """The worker's configuration of what follows an attempt; ``random`` is the jitter's."""

    def __init__(
        self,
        random: Callable[[], float],
        retry_policy: RetryPolicy | None = None,
        disable_after: float = 5 * 86400,
    ) -> None:
        self.random = random
        self.retry_policy = retry_policy or RetryPolicy()
        self.disable_after = disable_after
        self._policies: dict[tuple[float, ...], RetryPolicy] = {}
        #: Two observations per breaker configuration, shared (made per attempt).
        self._observations: dict[tuple[BreakerConfig, bool], CircuitObservation] = {}

    def schedule(self, delays: tuple[float, ...] | None) -> RetryPolicy:
        """The retry policy of an endpoint's own schedule (or the default one)."""
        if delays is None:
            return self.retry_policy
        policy = self._policies.get(delays)
        if policy is None:
            base = self.retry_policy
            policy = self._policies[delays] = RetryPolicy(delays, base.jitter, base.max_retry_after)
        return policy

    def _observation(self, config: BreakerConfig, failed: bool) -> CircuitObservation:
        found = self._observations.get((config, failed))
        if found is None:
            if len(self._observations) > 1024:
                self._observations.clear()
            found = self._observations[config, failed] = CircuitObservation(config, failed)
        return found

    def held(self, delivery: Claimed) -> Outcome:
        """The endpoint was found disabled at the claim: held, nothing sent or counted."""
        return Outcome(
            delivery.id, delivery.endpoint_id, DeliveryStatus.HELD, None, None,
            order_key=delivery.order_key,
        )  # fmt: skip

    def after(
        self,
        delivery: Claimed,
        result: AttemptResult,
        sent_at: float,
        now: float,
        sent: SentRequest | None = None,
        observed_rate: float = 0.0,
    ) -> Outcome:
        """Everything that follows one attempt of ``delivery`` made at ``sent_at``.

        ``sent`` is what the request carried (None: nothing was sent);
        ``observed_rate`` matters only for a 429 (see ``Throttle``).
        """
        attempts_made = delivery.attempts + 1
        endpoints_fault = result.error_class not in NOT_THE_ENDPOINTS_FAULT
        if result.error_class is ErrorClass.TRANSFORM:
            # The same payload fails the same way every time: no retries. Fix the
            # transformation, then recover the endpoint's failed messages.
            verdict, next_at, disable = Verdict.FAILED, None, False
        else:
            decision = decide(
                result, attempts_made, self.schedule(delivery.retry_schedule), now,
                delivery.failing_since if endpoints_fault else None, self.disable_after,
                self.random,
            )  # fmt: skip
            verdict, next_at, disable = (
                decision.verdict,
                decision.next_attempt_at,
                decision.disable_endpoint,
            )
        status = STATUS_OF[verdict]
        health = None
        if endpoints_fault:
            health = HEALTHY if result.succeeded else FAILING
        observation = None
        config = delivery.controls.breaker
        if config is not None and endpoints_fault:
            observation = self._observation(
                config, counts_as_failure(result.status_code, result.error_class)
            )
        throttle = None
        if result.status_code == 429:
            throttle = Throttle(result.retry_after, observed_rate)
        events: tuple[str, ...] = ()
        if (
            delivery.app_id != operational.APP_ID
        ):  # operational webhooks do not report on themselves
            event_type = operational.attempt_event_type(
                attempts_made, status is DeliveryStatus.SUCCESS, status is DeliveryStatus.FAILED
            )
            if event_type is not None:
                events = (event_type,)
            if disable:
                events = (*events, operational.ENDPOINT_DISABLED)
        return Outcome(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            status=status,
            next_attempt_at=next_at,
            attempt=attempt_record(delivery, result, sent_at, sent),
            endpoint_health=health,
            disabled=disabled_entry(delivery.app_id, delivery.endpoint_id, now)
            if disable
            else None,
            circuit=observation,
            throttle=throttle,
            order_key=delivery.order_key,
            operational=events,
        )


def attempt_record(
    delivery: Claimed, result: AttemptResult, sent_at: float, sent: SentRequest | None
) -> Attempt:
    """The attempt as the log keeps it."""
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


def disabled_entry(app_id: str, endpoint_id: str, now: float) -> AuditEntry:
    """The audit record of the worker turning an endpoint off (the trail shows the
    worker's changes too, not only the operator's)."""
    return AuditEntry(
        id=ids.new_id(ids.AUDIT, now), app_id=app_id, actor=WORKER_ACTOR,
        action=AUTO_DISABLE_ACTION, resource_type="endpoint", resource_id=endpoint_id,
        before={"disabled": False}, after={"disabled": True}, created_at=now,
    )  # fmt: skip


# the shared state, moved on under storage's lock ----------------------------------


@dataclass(frozen=True, slots=True)
class CircuitChange:
    """A circuit after a batch of outcomes, and what that means for the queue:
    ``park`` the endpoint's due work (it opened) or ``unpark`` it (it closed)."""

    after: Circuit
    park: bool = False
    unpark: bool = False


def circuit_after(before: Circuit, counted: Sequence[Outcome], now: float) -> CircuitChange:
    """The endpoint's circuit after the outcomes of one batch that carry an observation."""
    observations = [(o.delivery_id, o.circuit) for o in counted if o.circuit is not None]
    if not observations:
        return CircuitChange(before)
    failed = sum(1 for _, seen in observations if seen.failed)
    probe = next((seen for d, seen in observations if d == before.probe_id), None)
    after = breaker.observe(
        before, observations[0][1].config, now, len(observations) - failed, failed,
        None if probe is None else not probe.failed,
    )  # fmt: skip
    opened = after.state is CircuitState.OPEN and before.state is CircuitState.CLOSED
    closed = after.state is CircuitState.CLOSED and before.state is not CircuitState.CLOSED
    return CircuitChange(after, park=opened, unpark=closed)


# fan-out ----------------------------------------------------------------------------


def initial_status(
    target: RouteTarget, order_key: str | None, created_at: float
) -> tuple[DeliveryStatus, float | None]:
    """A new delivery's status and due time: pending (due now, or at the end of its
    batch wait for a batching endpoint), held (endpoint disabled), waiting (paused or
    circuit open) or queued (FIFO: the head of its key is chosen after the insert)."""
    if target.disabled:
        return DeliveryStatus.HELD, None
    batching = target.controls.batching
    due = created_at if batching is None else created_at + batching.max_wait
    if target.paused or target.circuit_open:
        return DeliveryStatus.WAITING, due
    if order_key is not None:
        return DeliveryStatus.QUEUED, due
    return DeliveryStatus.PENDING, due
