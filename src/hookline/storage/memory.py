"""An in-memory ``DeliveryQueue``, for tests and for embedding a worker in a program.

It keeps the queue's promises the way the SQL backends do, in a few dictionaries:
a claim leases due deliveries (highest priority first, then oldest due), within
each endpoint's free slots; a lease that lapses makes its delivery due again; a
batching endpoint's batch is topped up with ``claim_batch``; ``release`` gives a
delivery back due as before; ``record`` moves deliveries on by their outcomes
(only for the worker that still holds the lease), logs every attempt, keeps the
endpoint's health, disables it and holds its backlog, counts the circuit breaker
(opening parks the endpoint's work, the probe closes it) and slows an endpoint
down after a 429 (``pacing``). ``wait_for_work`` wakes on new work.

What it leaves out: durability (nothing survives the process), FIFO ordering
keys (every delivery is simply pending) and ``maxInFlight`` across workers.
Nothing in hookline's server uses it; ``tests/unit/test_worker.py`` runs the real
``DeliveryWorker`` against it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hookline.domain import circuit as breaker
from hookline.domain import ids, pacing, policy
from hookline.domain.audit import AuditEntry
from hookline.domain.circuit import Circuit, CircuitState
from hookline.domain.models import Attempt, DeliveryStatus, Endpoint, Message
from hookline.domain.routing import RouteTarget
from hookline.storage.base import ClaimedDelivery, Outcome

if TYPE_CHECKING:
    from hookline.storage.ports import DeliveryQueue


@dataclass(slots=True)
class QueuedDelivery:
    """One delivery in the memory queue: what is sent, and where it stands."""

    claimed: ClaimedDelivery
    status: DeliveryStatus
    due: float | None
    priority: int
    created_at: float
    attempts: int = 0
    lease_owner: str | None = None
    #: When it is due again if released (``due`` holds the lease's end while leased).
    scheduled: float | None = None


@dataclass(slots=True)
class EndpointState:
    """What the queue keeps of an endpoint between attempts."""

    endpoint: Endpoint
    failing_since: float | None = None
    circuit: Circuit = breaker.CLOSED
    pace: pacing.Pace = field(default_factory=pacing.Pace)


class MemoryQueue:
    """The ``DeliveryQueue`` role in memory (see the module's docstring)."""

    def __init__(self) -> None:
        self.deliveries: dict[str, QueuedDelivery] = {}
        self.endpoints: dict[str, EndpointState] = {}
        #: Every attempt recorded, in order; the audit entries and operational events
        #: the outcomes asked for.
        self.attempts: list[Attempt] = []
        self.audit: list[AuditEntry] = []
        self.events: list[tuple[str, str]] = []
        self._wakers: set[asyncio.Future[None]] = set()

    # adding work (what publish does in the server) -----------------------------------

    def add(self, message: Message, endpoint: Endpoint, due: float | None = None) -> str:
        """Queue a delivery of ``message`` to ``endpoint`` (its state is kept by id);
        due at ``due``, or as fan-out would make it. Returns the delivery's id."""
        state = self.endpoints.get(endpoint.id)
        if state is None:
            state = self.endpoints[endpoint.id] = EndpointState(endpoint)
        else:
            state.endpoint = endpoint
        target = RouteTarget(
            endpoint.id, endpoint.disabled, None, None, endpoint.paused, endpoint.controls,
            state.circuit.state is not CircuitState.CLOSED,
        )  # fmt: skip
        status, initial = policy.initial_status(target, None, message.created_at)
        claimed = ClaimedDelivery(
            id=ids.new_id(ids.DELIVERY, message.created_at), msg_id=message.id,
            endpoint_id=endpoint.id, app_id=message.app_id, attempts=0, manual=False,
            event_type=message.event_type, payload=message.payload, url=endpoint.url,
            endpoint_disabled=endpoint.disabled, headers=endpoint.headers,
            secret=endpoint.secret, old_secrets=endpoint.old_secrets,
            retry_schedule=endpoint.retry_schedule, failing_since=None,
            message_headers=message.headers, version=endpoint.version,
            controls=endpoint.controls, rate_limit=endpoint.rate_limit,
        )  # fmt: skip
        due = initial if due is None or initial is None else due
        self.deliveries[claimed.id] = QueuedDelivery(
            claimed, status, due, message.priority, message.created_at, scheduled=due
        )
        self._wake()
        return claimed.id

    # the DeliveryQueue role ---------------------------------------------------------

    async def claim(
        self, worker: str, now: float, lease_until: float, limit: int,
        busy: Mapping[str, int] | None = None, per_endpoint: int | None = None,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        """Lease up to ``limit`` due deliveries, highest priority first, then oldest due."""
        due = sorted(
            (d for d in self.deliveries.values() if _due(d, now)),
            key=lambda d: (d.priority, d.due, d.claimed.id),
        )
        room: dict[str, int] = {}
        chosen: list[QueuedDelivery] = []
        for queued in due:
            endpoint_id = queued.claimed.endpoint_id
            state = self.endpoints[endpoint_id]
            if not state.circuit.lets_through(queued.claimed.id) or state.endpoint.paused:
                queued.status = DeliveryStatus.WAITING  # parked until it closes or resumes
                continue
            if len(chosen) >= limit:
                break
            if endpoint_id not in room:
                taken = (busy or {}).get(endpoint_id, 0)
                room[endpoint_id] = limit if per_endpoint is None else per_endpoint - taken
            if room[endpoint_id] <= 0:
                continue
            room[endpoint_id] -= 1
            chosen.append(queued)
        return self._lease(worker, self._paced(chosen, now), lease_until)

    def _paced(
        self, chosen: list[QueuedDelivery], now: float
    ) -> list[tuple[QueuedDelivery, float | None]]:
        """The chosen that the endpoints' pace lets go, with their slots; the rest are
        put off to their later slots."""
        going: list[tuple[QueuedDelivery, float | None]] = []
        by_endpoint: dict[str, list[QueuedDelivery]] = {}
        for queued in chosen:
            by_endpoint.setdefault(queued.claimed.endpoint_id, []).append(queued)
        for endpoint_id, queued_ in by_endpoint.items():
            state = self.endpoints[endpoint_id]
            rate = state.endpoint.rate_limit
            if rate is None and state.pace.throttled_rate is None and state.pace.tat <= now:
                going.extend((q, None) for q in queued_)
                continue
            admission = pacing.admit(len(queued_), rate, state.pace, now)
            state.pace = admission.pace
            admitted = len(admission.send_at)
            going.extend(zip(queued_[:admitted], admission.send_at, strict=True))
            for queued, later in zip(queued_[admitted:], admission.postpone_to, strict=True):
                queued.due = queued.scheduled = later
        return sorted(going, key=lambda pair: (pair[0].priority, pair[0].due, pair[0].claimed.id))

    def _lease(
        self, worker: str, going: Sequence[tuple[QueuedDelivery, float | None]],
        lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        claimed = []
        for queued, send_at in going:
            state = self.endpoints[queued.claimed.endpoint_id]
            queued.lease_owner = worker
            queued.scheduled = queued.due
            queued.due = lease_until  # a leased delivery is simply not due until its lease ends
            claimed.append(
                replace(
                    queued.claimed,
                    attempts=queued.attempts,
                    failing_since=state.failing_since,
                    endpoint_disabled=state.endpoint.disabled,
                    send_at=send_at,
                )
            )
        return claimed

    async def claim_batch(
        self, worker: str, endpoint_id: str, since: float, exclude: Sequence[str], limit: int,
        lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        """Lease up to ``limit`` more unsent, unleased first attempts of the endpoint made
        since ``since`` (due or not), oldest first."""
        excluded = set(exclude)
        more = sorted(
            (
                d for d in self.deliveries.values()
                if d.claimed.endpoint_id == endpoint_id and d.status is DeliveryStatus.PENDING
                and d.lease_owner is None and d.attempts == 0 and d.created_at >= since
                and d.claimed.id not in excluded
            ),
            key=lambda d: d.claimed.id,
        )[:limit]  # fmt: skip
        return self._lease(worker, [(d, None) for d in more], lease_until)

    async def start_probes(self, now: float) -> int:
        """Half-open the circuits whose cool-down has passed, each with one probe."""
        started = 0
        for endpoint_id, state in self.endpoints.items():
            circuit = state.circuit
            if circuit.state is not CircuitState.OPEN or (circuit.probe_at or 0.0) > now:
                continue
            waiting = sorted(
                (
                    d for d in self.deliveries.values()
                    if d.claimed.endpoint_id == endpoint_id and d.status is DeliveryStatus.WAITING
                ),
                key=lambda d: d.claimed.id,
            )  # fmt: skip
            if not waiting:
                state.circuit = Circuit(window_start=now)
                continue
            probe = waiting[0]
            probe.status, probe.due, probe.scheduled = DeliveryStatus.PENDING, now, now
            state.circuit = breaker.probe(circuit, probe.claimed.id)
            started += 1
        if started:
            self._wake()
        return started

    async def release(self, worker: str, delivery_ids: Sequence[str]) -> None:
        """Give leased deliveries back unattempted, due as before."""
        for delivery_id in delivery_ids:
            queued = self.deliveries.get(delivery_id)
            if queued is not None and queued.lease_owner == worker:
                queued.lease_owner, queued.due = None, queued.scheduled
        self._wake()

    async def record(self, worker: str, outcomes: Sequence[Outcome], now: float) -> None:
        """Log the attempts and move the deliveries this worker still holds on."""
        for o in outcomes:
            if o.attempt is not None:
                self.attempts.append(o.attempt)
            queued = self.deliveries.get(o.delivery_id)
            if queued is None or queued.lease_owner != worker:
                continue  # the lease was lost: another worker has it now
            queued.status, queued.due, queued.scheduled = (
                o.status,
                o.next_attempt_at,
                o.next_attempt_at,
            )
            queued.lease_owner = None
            queued.attempts += o.attempt is not None
        for o in outcomes:
            self._endpoint_news(o, now)
        counted: dict[str, list[Outcome]] = {}
        for o in outcomes:
            if o.circuit is not None:
                counted.setdefault(o.endpoint_id, []).append(o)
        for endpoint_id, batch in counted.items():
            state = self.endpoints[endpoint_id]
            change = policy.circuit_after(state.circuit, batch, now)
            state.circuit = change.after
            if change.park:
                self._move(endpoint_id, DeliveryStatus.PENDING, DeliveryStatus.WAITING)
            elif change.unpark and not state.endpoint.paused:
                self._move(endpoint_id, DeliveryStatus.WAITING, DeliveryStatus.PENDING)
        self._wake()

    def _endpoint_news(self, o: Outcome, now: float) -> None:
        state = self.endpoints[o.endpoint_id]
        if o.endpoint_health == policy.HEALTHY:
            state.failing_since = None
        elif o.endpoint_health == policy.FAILING and state.failing_since is None:
            state.failing_since = now
        if o.disabled is not None and not state.endpoint.disabled:
            state.endpoint = replace(state.endpoint, disabled=True)
            self.audit.append(o.disabled)
            self._move(o.endpoint_id, DeliveryStatus.PENDING, DeliveryStatus.HELD)
            self._move(o.endpoint_id, DeliveryStatus.WAITING, DeliveryStatus.HELD)
        self.events.extend((event_type, o.endpoint_id) for event_type in o.operational)
        if o.throttle is not None:
            state.pace = pacing.throttled(
                state.endpoint.rate_limit, state.pace, now, o.throttle.observed_rate,
                o.throttle.retry_after,
            )  # fmt: skip

    def _move(self, endpoint_id: str, status: DeliveryStatus, to: DeliveryStatus) -> None:
        """Every unleased delivery of the endpoint in ``status`` goes to ``to``."""
        for queued in self.deliveries.values():
            if (
                queued.claimed.endpoint_id == endpoint_id and queued.status is status
                and queued.lease_owner is None
            ):  # fmt: skip
                queued.status = to
                if to is DeliveryStatus.HELD:
                    queued.due = queued.scheduled = None

    async def next_due(self) -> float | None:
        """When the earliest pending delivery falls due (leased ones at their lease's end)."""
        due = [
            d.due
            for d in self.deliveries.values()
            if d.status is DeliveryStatus.PENDING and d.due is not None
        ]
        return min(due, default=None)

    async def wait_for_work(self, timeout: float) -> None:
        """Return when work was added, given back or moved on, or after ``timeout``."""
        waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wakers.add(waker)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waker), timeout)
        finally:
            self._wakers.discard(waker)

    def _wake(self) -> None:
        for waker in self._wakers:
            if not waker.done():
                waker.set_result(None)
        self._wakers.clear()


def _due(queued: QueuedDelivery, now: float) -> bool:
    """Pending and due: never leased, or its lease has lapsed."""
    return queued.status is DeliveryStatus.PENDING and queued.due is not None and queued.due <= now


if TYPE_CHECKING:
    # mypy checks here that the memory queue plays the whole role.
    _PLAYS_THE_ROLE: type[DeliveryQueue] = MemoryQueue
