"""The storage side of the delivery controls, on both backends (the ``storage`` fixture).

Fan-out (filters, FIFO queues, parked work, batches), the claim (priorities, gates, FIFO
heads, pace) and the record (circuit breaker, FIFO promotion) are all inside storage
transactions; these tests drive them directly, without a worker or HTTP.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hookline.domain import ids
from hookline.domain.circuit import CircuitState
from hookline.domain.controls import Batching, BreakerConfig, Controls, Ordering
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    DeliveryStatus,
    Endpoint,
    Message,
    TriggerType,
)
from hookline.domain.policy import CircuitObservation, Throttle
from hookline.domain.series import SeriesPoint
from hookline.storage import Storage
from hookline.storage.base import ClaimedDelivery, Outcome

T0 = 1_700_000_000.0
LEASE = 30.0


async def add_app(storage: Storage) -> Application:
    app = Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", created_at=T0)
    return await storage.create_application(app)


async def add_endpoint(storage: Storage, app: Application, **fields: Any) -> Endpoint:
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, url="https://example.com/in",
        secret="whsec_" + "A" * 32, created_at=T0, updated_at=T0, **fields,
    )  # fmt: skip
    return await storage.create_endpoint(endpoint)


async def publish(
    storage: Storage, app: Application, at: float = T0, payload: bytes = b"{}", **fields: Any
) -> Message:
    message = Message(
        id=ids.new_id(ids.MESSAGE, at), app_id=app.id, event_type="e", payload=payload,
        created_at=at, **fields,
    )  # fmt: skip
    return (await storage.publish(message)).message


async def claim(storage: Storage, now: float, limit: int = 100, worker: str = "w1") -> list[Any]:
    return await storage.claim(worker, now, now + LEASE, limit)


def outcome(
    claimed: ClaimedDelivery, at: float, code: int, retry_at: float | None = None
) -> Outcome:
    ok = 200 <= code < 300
    attempt = Attempt(
        id=ids.new_id(ids.ATTEMPT, at), delivery_id=claimed.id, msg_id=claimed.msg_id,
        endpoint_id=claimed.endpoint_id, app_id=claimed.app_id, url=claimed.url,
        status=AttemptStatus.SUCCESS if ok else AttemptStatus.FAIL, response_status_code=code,
        response="", response_headers={}, duration_ms=1, error_class=None if ok else "http_status",
        trigger_type=TriggerType.SCHEDULED, created_at=at,
    )  # fmt: skip
    if ok:
        status = DeliveryStatus.SUCCESS
    else:
        status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.FAILED
    breaker = claimed.controls.breaker
    return Outcome(
        delivery_id=claimed.id, endpoint_id=claimed.endpoint_id, status=status,
        next_attempt_at=retry_at, attempt=attempt, order_key=claimed.order_key,
        circuit=None if breaker is None else CircuitObservation(breaker, failed=code >= 500),
    )  # fmt: skip


async def status_of(storage: Storage, message: Message, endpoint: Endpoint) -> DeliveryStatus:
    return (await storage.get_delivery(message.id, endpoint.id)).status


async def test_filters_decide_fan_out(storage: Storage) -> None:
    app = await add_app(storage)
    big = await add_endpoint(
        storage, app, controls=Controls(filter={"body": {"amount": {"$gte": 100}}})
    )
    small = await publish(storage, app, payload=b'{"amount": 5}')
    large = await publish(storage, app, payload=b'{"amount": 500}')
    claimed = await claim(storage, T0)
    assert [(c.msg_id, c.endpoint_id) for c in claimed] == [(large.id, big.id)]
    assert small.id not in {c.msg_id for c in claimed}


async def test_high_priority_is_claimed_before_older_normal_work(storage: Storage) -> None:
    app = await add_app(storage)
    await add_endpoint(storage, app)
    low = await publish(storage, app, at=T0, priority=2)
    normal = await publish(storage, app, at=T0 + 1, priority=1)
    high = await publish(storage, app, at=T0 + 2, priority=0)
    order = [(await claim(storage, T0 + 10, limit=1))[0].msg_id for _ in range(3)]
    assert order == [high.id, normal.id, low.id]


async def test_pause_parks_work_and_resume_lets_it_go(storage: Storage) -> None:
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    before = await publish(storage, app)
    paused = await storage.set_paused(app.id, endpoint.id, True, T0 + 1)
    assert paused.paused
    during = await publish(storage, app, at=T0 + 2)
    assert await claim(storage, T0 + 3) == []
    assert await status_of(storage, before, endpoint) == DeliveryStatus.WAITING
    assert await status_of(storage, during, endpoint) == DeliveryStatus.WAITING
    state = await storage.delivery_state(app.id, endpoint.id, T0 + 3)
    assert (state.paused, state.waiting) == (True, 2)
    await storage.set_paused(app.id, endpoint.id, False, T0 + 4)
    assert {c.msg_id for c in await claim(storage, T0 + 5)} == {before.id, during.id}


async def test_fifo_hands_out_only_the_head_of_each_key(storage: Storage) -> None:
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app, controls=Controls(ordering=Ordering("acct")))
    a = [await publish(storage, app, at=T0 + i, payload=b'{"acct": "a"}') for i in range(3)]
    b = await publish(storage, app, at=T0 + 5, payload=b'{"acct": "b"}')
    heads = await claim(storage, T0 + 10)
    assert {c.msg_id for c in heads} == {a[0].id, b.id}
    assert {c.order_key for c in heads} == {"a", "b"}
    head = next(c for c in heads if c.msg_id == a[0].id)
    # A failing head holds its key back...
    await storage.record("w1", [outcome(head, T0 + 11, 503, retry_at=T0 + 20)], T0 + 11)
    assert await claim(storage, T0 + 12) == []
    assert await status_of(storage, a[1], endpoint) == DeliveryStatus.QUEUED
    # ...until it is through; then the next of its key goes.
    [retried] = await claim(storage, T0 + 20)
    await storage.record("w1", [outcome(retried, T0 + 21, 200)], T0 + 21)
    [second] = await claim(storage, T0 + 22)
    assert second.msg_id == a[1].id


async def test_breaker_opens_parks_probes_and_closes(storage: Storage) -> None:
    app = await add_app(storage)
    config = BreakerConfig(failure_rate=0.5, minimum_attempts=2, window=60, cooldown=10)
    endpoint = await add_endpoint(storage, app, controls=Controls(breaker=config))
    messages = [await publish(storage, app, at=T0 + i) for i in range(5)]
    first, second = await claim(storage, T0 + 10, limit=2)
    failures = [outcome(c, T0 + 11, 500, retry_at=T0 + 12) for c in (first, second)]
    await storage.record("w1", failures, T0 + 11)
    state = await storage.delivery_state(app.id, endpoint.id, T0 + 11)
    assert state.circuit.state is CircuitState.OPEN
    assert state.waiting == 5  # the retries and the untried alike wait, retries intact
    assert await claim(storage, T0 + 15) == []
    assert await storage.start_probes(T0 + 20) == 0  # not yet: the cool-down runs to T0 + 21
    assert await storage.start_probes(T0 + 21) == 1
    [probe] = await claim(storage, T0 + 21)
    assert probe.msg_id == messages[0].id
    assert probe.attempts == 1
    await storage.record("w1", [outcome(probe, T0 + 22, 200)], T0 + 22)
    state = await storage.delivery_state(app.id, endpoint.id, T0 + 22)
    assert (state.circuit.state, state.waiting) == (CircuitState.CLOSED, 0)
    assert len(await claim(storage, T0 + 23)) == 4


async def test_throttle_rate_books_slots_shared_by_every_claimer(storage: Storage) -> None:
    app = await add_app(storage)
    await add_endpoint(storage, app, rate_limit=2)
    for i in range(6):
        await publish(storage, app, at=T0 + i * 0.001)
    now = T0 + 10
    first = await claim(storage, now, worker="w1")
    # Two a second: now, now + 0.5 and now + 1.0 fall within the one-second horizon...
    assert [c.send_at for c in first] == [now, now + 0.5, now + 1.0]
    assert await claim(storage, now, worker="w2") == []  # ...and are taken
    # The rest were put off to their own slots, and go one by one as those come.
    slots = []
    for at in (now + 1.5, now + 2.0, now + 2.5):
        slots += [c.send_at for c in await claim(storage, at, worker="w2")]
    assert slots == [now + 1.5, now + 2.0, now + 2.5]


async def test_a_429_halves_the_rate_every_worker_sent_at(storage: Storage) -> None:
    """With no rate set, a 429 halves the rate the endpoint got from all workers together
    (the attempts of the last second), not the share the worker that met it sent."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    for i in range(41):
        await publish(storage, app, at=T0 + i * 0.001)
    now = T0 + 10
    busy = await claim(storage, now, limit=40, worker="w1")
    # w1 sent 40 in the last second, all answered 200...
    sent = [outcome(c, now + 0.5 + i * 0.01, 200) for i, c in enumerate(busy)]
    await storage.record("w1", sent, now + 0.95)
    # ...and w2, which sent one, meets the 429: its own rate is 1/s.
    [last] = await claim(storage, now + 0.9, worker="w2")
    met = replace(outcome(last, now + 0.9, 429, retry_at=now + 2), throttle=Throttle(0.0, 1.0))
    await storage.record("w2", [met], now + 0.95)
    state = await storage.delivery_state(app.id, endpoint.id, now + 0.95)
    assert state.throttled_at == now + 0.95
    assert state.effective_rate == 41 / 2


async def test_max_in_flight_counts_every_workers_leases(storage: Storage) -> None:
    app = await add_app(storage)
    await add_endpoint(storage, app, controls=Controls(max_in_flight=2))
    for i in range(5):
        await publish(storage, app, at=T0 + i * 0.001)
    assert len(await claim(storage, T0 + 1, worker="w1", limit=1)) == 1
    assert len(await claim(storage, T0 + 1, worker="w2")) == 1
    assert await claim(storage, T0 + 2, worker="w3") == []


async def test_a_full_batch_is_due_at_once_and_claim_batch_fills_one(storage: Storage) -> None:
    app = await add_app(storage)
    endpoint = await add_endpoint(
        storage, app, controls=Controls(batching=Batching(max_size=3, max_wait=60))
    )
    first = await publish(storage, app, at=T0)
    assert await claim(storage, T0 + 1) == []  # waiting for more, up to 60 s
    await publish(storage, app, at=T0 + 2)
    await publish(storage, app, at=T0 + 3)  # the third fills the batch: all due now
    batch = await claim(storage, T0 + 3)
    assert len(batch) == 3
    await storage.record("w1", [outcome(c, T0 + 4, 200) for c in batch], T0 + 4)
    late = await publish(storage, app, at=T0 + 100)
    more = await publish(storage, app, at=T0 + 101)
    [due] = await claim(storage, T0 + 160)
    assert due.msg_id == late.id
    filled = await storage.claim_batch("w1", endpoint.id, T0 + 99, [due.id], 5, T0 + 200)
    assert [c.msg_id for c in filled] == [more.id]
    assert first.id != late.id


async def test_deleting_an_endpoint_removes_its_state(storage: Storage) -> None:
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app, rate_limit=1)
    await publish(storage, app)
    await claim(storage, T0 + 1)
    await storage.delete_endpoint(app.id, endpoint.id)
    again = await add_endpoint(storage, app)
    state = await storage.delivery_state(app.id, again.id, T0 + 2)
    assert state.next_slot_at is None


async def test_attempt_series_buckets_attempts_with_percentiles(storage: Storage) -> None:
    app = await add_app(storage)
    await add_endpoint(storage, app)
    for i in range(3):
        await publish(storage, app, at=T0 + i * 0.01)
    claimed = await claim(storage, T0 + 1)
    outcomes = [outcome(c, T0 + 10 + i * 30, 200 if i else 500) for i, c in enumerate(claimed)]
    await storage.record("w1", outcomes, T0 + 100)
    series = await storage.attempt_series(app.id, T0, T0 + 120, 60)
    assert [(p.attempts, p.succeeded) for p in series] == [(2, 1), (1, 1)]
    assert series[0].p50_ms == 1.0
    assert await storage.attempt_series("app_other", T0, T0 + 120, 60) == [
        SeriesPoint(T0, 0, 0, None, None, None),
        SeriesPoint(T0 + 60, 0, 0, None, None, None),
    ]
