"""The real DeliveryWorker against the in-memory queue and a scripted transport: no server."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from hookline.delivery.handlers import HandlerRunner
from hookline.delivery.worker import DeliveryWorker, WorkerConfig
from hookline.domain import ids, operational, signing
from hookline.domain.controls import Batching, BreakerConfig, Controls
from hookline.domain.endpoint_auth import ClientTls
from hookline.domain.handlers import Handlers, InboundEvent
from hookline.domain.models import DeliveryStatus, Endpoint, Message
from hookline.domain.outcome import AttemptResult, ErrorClass
from hookline.domain.retry import RetryPolicy
from hookline.domain.shaping import BATCH_SIZE_HEADER
from hookline.storage.memory import MemoryQueue

SECRET = signing.generate_secret()
FAST = WorkerConfig(
    concurrency=8, endpoint_concurrency=4, slow_after=0.05, claim_batch=8, lease_seconds=30.0,
    poll_interval=0.05, shutdown_grace=0.05, retry_policy=RetryPolicy((0.02, 0.02), jitter=0.0),
)  # fmt: skip

Answer = Callable[[str, bytes, Mapping[str, str]], Awaitable[AttemptResult]]


def answer(code: int, retry_after: float | None = None) -> AttemptResult:
    error = None if 200 <= code < 300 else ErrorClass.HTTP_STATUS
    return AttemptResult(code, "", {}, 1, error, retry_after)


@dataclass
class Request:
    url: str
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class ScriptedTransport:
    """A Transport that answers as scripted: by URL, a list of codes (the last repeats),
    or ``HANG`` (never answers until cancelled or ``release``d)."""

    script: dict[str, list[int | str]] = field(default_factory=dict)
    sent: list[Request] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: Counter[str] = field(default_factory=Counter)
    retry_after: float | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], tls: ClientTls | None = None
    ) -> AttemptResult:
        self.sent.append(Request(url, body, dict(headers), time.time()))
        steps = self.script.get(url, [200])
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        self.in_flight[url] += 1
        self.most_in_flight[url] = max(self.most_in_flight[url], self.in_flight[url])
        try:
            if step == HANG:
                await self.released.wait()
                return answer(200)
            if step == RAISE:
                raise RuntimeError("a bug in the transport")
            assert isinstance(step, int)
            return answer(step, self.retry_after if step == 429 else None)
        finally:
            self.in_flight[url] -= 1

    async def close(self) -> None:
        pass

    def to(self, url: str) -> list[Request]:
        return [r for r in self.sent if r.url == url]


HANG = "hang"
RAISE = "raise"


def endpoint(url: str = "https://a.example/hook", **fields: object) -> Endpoint:
    return Endpoint(
        id=ids.new_id(ids.ENDPOINT, time.time()), app_id="app_1", url=url, secret=SECRET,
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def message(priority: int = 1, at: float | None = None, payload: bytes = b'{"n": 1}') -> Message:
    at = time.time() if at is None else at
    return Message(
        id=ids.new_id(ids.MESSAGE, at), app_id="app_1", event_type="invoice.paid",
        payload=payload, created_at=at, priority=priority,
    )  # fmt: skip


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@asynccontextmanager
async def running(
    queue: MemoryQueue, transport: ScriptedTransport, config: WorkerConfig = FAST,
    handlers: Handlers | None = None, clock: Callable[[], float] = time.time,
) -> AsyncIterator[DeliveryWorker]:  # fmt: skip
    worker = DeliveryWorker(
        queue, transport, config, name="w1", clock=clock, random=lambda: 0.5,
        handlers=HandlerRunner(handlers, timeout=1.0),
    )  # fmt: skip
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)


def status(queue: MemoryQueue, delivery_id: str) -> DeliveryStatus:
    return queue.deliveries[delivery_id].status


async def test_a_2xx_is_recorded_as_a_success_with_one_attempt() -> None:
    """A delivery answered 200 is a success, with its attempt logged."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    delivery = queue.add(message(), endpoint())
    async with running(queue, transport):
        await until(lambda: status(queue, delivery) is DeliveryStatus.SUCCESS)
    assert len(transport.sent) == 1
    assert [(a.delivery_id, a.response_status_code) for a in queue.attempts] == [(delivery, 200)]


async def test_requests_carry_a_signature_that_verifies() -> None:
    """The body is signed under the message id with the endpoint's secret, per attempt."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    msg = message()
    queue.add(msg, endpoint(headers={"x-team": "billing"}))
    async with running(queue, transport):
        await until(lambda: len(queue.attempts) == 1)
    [sent] = transport.sent
    assert sent.body == msg.payload
    assert sent.headers["webhook-id"] == msg.id
    assert sent.headers["x-team"] == "billing"
    assert sent.headers["content-type"] == "application/json"
    signing.verify(SECRET, sent.body, sent.headers, int(time.time()))


async def test_a_failure_is_retried_on_the_schedule_until_it_succeeds() -> None:
    """A 500 is tried again after the schedule's delay; the next 200 finishes it."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [500, 500, 200]})
    delivery = queue.add(message(), ep)
    async with running(queue, transport):
        await until(lambda: status(queue, delivery) is DeliveryStatus.SUCCESS)
    times = [r.at for r in transport.sent]
    assert len(times) == 3
    assert all(later - earlier >= 0.02 for earlier, later in itertools.pairwise(times))
    assert queue.deliveries[delivery].attempts == 3


async def test_a_spent_schedule_fails_the_delivery_and_says_so() -> None:
    """When every retry failed, the delivery is dead-lettered with an exhausted event."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [503]})
    delivery = queue.add(message(), ep)
    async with running(queue, transport):
        await until(lambda: status(queue, delivery) is DeliveryStatus.FAILED)
    assert len(transport.sent) == 3  # the first attempt and two retries
    assert (operational.ATTEMPT_EXHAUSTED, ep.id) in queue.events
    assert queue.endpoints[ep.id].failing_since is not None


async def test_a_410_disables_the_endpoint_and_holds_its_backlog() -> None:
    """410 Gone turns the endpoint off, audited, and holds what else was queued for it."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [410]})
    config = replace(FAST, concurrency=1, claim_batch=1)
    first = queue.add(message(at=time.time() - 1), ep)
    second = queue.add(message(at=time.time() + 0.3), ep)
    async with running(queue, transport, config):
        await until(lambda: status(queue, first) is DeliveryStatus.FAILED)
        await until(lambda: status(queue, second) is DeliveryStatus.HELD)
    assert len(transport.sent) == 1
    assert [entry.action for entry in queue.audit] == ["endpoint.disabled.automatic"]
    assert (operational.ENDPOINT_DISABLED, ep.id) in queue.events


async def test_a_batching_endpoint_gets_its_due_events_in_one_request() -> None:
    """Due deliveries of a batching endpoint share one request, with a batch size header."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    ep = endpoint(controls=Controls(batching=Batching(max_size=10, max_wait=0.0)))
    past = time.time() - 1
    made = [queue.add(message(at=past + i * 0.001), ep) for i in range(3)]
    async with running(queue, transport):
        await until(lambda: all(status(queue, d) is DeliveryStatus.SUCCESS for d in made))
    [sent] = transport.sent
    assert sent.headers[BATCH_SIZE_HEADER] == "3"
    assert sent.headers["webhook-id"].startswith("batch_")
    assert len(queue.attempts) == 3


async def test_a_batch_is_topped_up_with_events_still_inside_their_wait() -> None:
    """A batch that falls due takes the endpoint's newer events along (claim_batch)."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    ep = endpoint(controls=Controls(batching=Batching(max_size=5, max_wait=0.5)))
    now = time.time()
    made = [queue.add(message(at=now - 0.5), ep)]  # due now: its wait is over
    made += [queue.add(message(at=now + i * 0.001), ep) for i in range(3)]  # due in 0.5 s
    async with running(queue, transport):
        await until(lambda: all(status(queue, d) is DeliveryStatus.SUCCESS for d in made))
    assert len(transport.sent) == 1
    assert transport.sent[0].headers[BATCH_SIZE_HEADER] == "4"
    assert transport.sent[0].at - now < 0.4  # sent with the first, not at the others' deadline


async def test_no_endpoint_gets_more_than_its_cap_in_flight() -> None:
    """With endpoint_concurrency 2, a hanging endpoint never has more than 2 requests out."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [HANG]})
    config = replace(FAST, endpoint_concurrency=2)
    for _ in range(6):
        queue.add(message(), ep)
    async with running(queue, transport, config):
        await until(lambda: transport.in_flight[ep.url] == 2)
        await asyncio.sleep(0.1)
        assert transport.most_in_flight[ep.url] == 2
        transport.released.set()
        await until(lambda: len(queue.attempts) == 6)
    assert transport.most_in_flight[ep.url] == 2


async def test_a_hanging_endpoint_does_not_starve_the_others() -> None:
    """Requests unanswered past slow_after leave their slots: other endpoints still go."""
    queue = MemoryQueue()
    stuck, fine = endpoint("https://stuck.example/"), endpoint("https://fine.example/")
    transport = ScriptedTransport({stuck.url: [HANG]})
    config = replace(FAST, concurrency=4, endpoint_concurrency=4, claim_batch=4)
    past = time.time() - 1
    for i in range(4):
        queue.add(message(at=past + i * 0.001), stuck)  # they fill every slot first
    later = [queue.add(message(), fine) for _ in range(4)]
    async with running(queue, transport, config):
        await until(lambda: all(status(queue, d) is DeliveryStatus.SUCCESS for d in later))
        assert transport.in_flight[stuck.url] == 4
        transport.released.set()


async def test_higher_priority_goes_before_older_work() -> None:
    """A high-priority message is sent before older normal and low ones."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    ep = endpoint()
    past = time.time() - 1
    low = message(priority=2, at=past)
    normal = message(priority=1, at=past + 0.001)
    high = message(priority=0, at=past + 0.002)
    for msg in (low, normal, high):
        queue.add(msg, ep)
    config = replace(FAST, concurrency=1, claim_batch=1)
    async with running(queue, transport, config):
        await until(lambda: len(queue.attempts) == 3)
    assert [r.headers["webhook-id"] for r in transport.sent] == [high.id, normal.id, low.id]


async def test_a_429_holds_the_endpoints_other_requests_until_its_retry_after() -> None:
    """After a 429, requests already claimed for that endpoint wait out its Retry-After."""
    queue = MemoryQueue()
    ep = endpoint(rate_limit=20)  # claimed together, sent 50 ms apart
    transport = ScriptedTransport({ep.url: [429, 200]}, retry_after=0.3)
    first = queue.add(message(), ep)
    second = queue.add(message(), ep)
    async with running(queue, transport):
        await until(
            lambda: {status(queue, first), status(queue, second)} == {DeliveryStatus.SUCCESS}
        )
    answered_429 = transport.sent[0].at
    assert len(transport.sent) == 3  # the 429's delivery was retried at its Retry-After
    assert all(r.at - answered_429 >= 0.28 for r in transport.sent[1:])
    assert queue.endpoints[ep.id].pace.throttled_rate is not None  # the shared pace slowed


async def test_a_worker_that_lost_its_lease_does_not_move_the_delivery() -> None:
    """An outcome recorded after the lease passed to another worker is logged, not applied."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [HANG]})
    delivery = queue.add(message(at=time.time() - 11), ep)
    # This worker's clock runs 10 s behind: its lease ends 50 ms from now in real time,
    # and it does not see that lapse itself, so another worker takes the delivery over.
    config = replace(FAST, lease_seconds=10.05)
    async with running(queue, transport, config, clock=lambda: time.time() - 10):
        await until(lambda: transport.in_flight[ep.url] == 1)
        await asyncio.sleep(0.06)  # the lease lapses while the request hangs
        [taken] = await queue.claim("w2", time.time(), time.time() + 60, 10)
        assert taken.id == delivery
        transport.released.set()
        await until(lambda: len(queue.attempts) == 1)
    assert queue.deliveries[delivery].lease_owner == "w2"
    assert queue.deliveries[delivery].attempts == 0


async def test_shutdown_hands_unfinished_leases_back() -> None:
    """Requests still out when the grace ends are cancelled and their deliveries released."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [HANG]})
    delivery = queue.add(message(), ep)
    due = queue.deliveries[delivery].due
    async with running(queue, transport):
        await until(lambda: transport.in_flight[ep.url] == 1)
    queued = queue.deliveries[delivery]
    assert (queued.status, queued.lease_owner, queued.due) == (DeliveryStatus.PENDING, None, due)
    assert queue.attempts == []


async def test_a_new_message_wakes_an_idle_worker() -> None:
    """A worker napping for its poll interval is woken by new work, not the interval's end."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    config = replace(FAST, poll_interval=30.0)
    async with running(queue, transport, config):
        await asyncio.sleep(0.05)  # idle now, napping for 30 s
        delivery = queue.add(message(), endpoint())
        await until(lambda: status(queue, delivery) is DeliveryStatus.SUCCESS, timeout=1.0)


async def test_handler_endpoints_run_in_process_without_http() -> None:
    """A handler: endpoint's event runs through the worker's handlers, no request is sent."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    handlers = Handlers("billing")
    seen: list[InboundEvent] = []
    handlers.on("invoice.paid")(seen.append)
    msg = message()
    delivery = queue.add(msg, endpoint("handler:billing"))
    async with running(queue, transport, handlers=handlers):
        await until(lambda: status(queue, delivery) is DeliveryStatus.SUCCESS)
    assert transport.sent == []
    assert [(e.id, e.attempt) for e in seen] == [(msg.id, 1)]


async def test_a_handler_group_no_worker_runs_is_not_the_endpoints_fault() -> None:
    """Without handlers for its group the attempt fails as no_handler; health is untouched."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    ep = endpoint("handler:reports")
    queue.add(message(), ep)
    async with running(queue, transport):
        await until(lambda: len(queue.attempts) == 1)
    assert queue.attempts[0].error_class == ErrorClass.NO_HANDLER
    assert queue.endpoints[ep.id].failing_since is None


async def test_an_unreadable_secret_is_never_sent_unsigned() -> None:
    """A delivery whose secret did not unseal is recorded as secret_unreadable, not sent."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    delivery = queue.add(message(), endpoint())
    queued = queue.deliveries[delivery]
    queued.claimed = replace(queued.claimed, problem="the secret does not unseal")
    async with running(queue, transport):
        await until(lambda: len(queue.attempts) == 1)
    assert transport.sent == []
    assert queue.attempts[0].error_class == ErrorClass.SECRET_UNREADABLE
    assert status(queue, delivery) is DeliveryStatus.PENDING  # retried on its schedule


async def test_a_failing_transformation_fails_at_once_without_a_request() -> None:
    """A transformation that fails on the payload dead-letters the delivery, unsent."""
    queue, transport = MemoryQueue(), ScriptedTransport()
    broken = Controls(transformation={"body": "sum(n)"})  # sum() of a number: fails
    delivery = queue.add(message(payload=b'{"n": "x"}'), endpoint(controls=broken))
    async with running(queue, transport):
        await until(lambda: len(queue.attempts) == 1)
    assert queue.attempts[0].error_class == ErrorClass.TRANSFORM
    assert transport.sent == []
    assert status(queue, delivery) is DeliveryStatus.FAILED


async def test_an_open_circuit_parks_the_endpoints_work() -> None:
    """Enough failures open the breaker: the endpoint's other deliveries wait, unsent."""
    queue = MemoryQueue()
    breaker = BreakerConfig(failure_rate=0.5, minimum_attempts=2, cooldown=60.0)
    ep = endpoint(controls=Controls(breaker=breaker))
    transport = ScriptedTransport({ep.url: [500]})
    config = replace(FAST, concurrency=2, claim_batch=2, endpoint_concurrency=2)
    past = time.time() - 1
    made = [queue.add(message(at=past + i * 0.001), ep) for i in range(5)]
    async with running(queue, transport, config):
        await until(lambda: len(queue.attempts) >= 2)
        await until(lambda: all(status(queue, d) is DeliveryStatus.WAITING for d in made[2:]))
    assert len(transport.sent) == 2
    assert str(queue.endpoints[ep.id].circuit.state) == "open"


async def test_a_crashing_transport_is_a_failed_attempt_not_a_stranded_delivery() -> None:
    """An exception inside an attempt is recorded as an error and retried on schedule."""
    queue = MemoryQueue()
    ep = endpoint()
    transport = ScriptedTransport({ep.url: [RAISE, 200]})
    delivery = queue.add(message(), ep)
    async with running(queue, transport):
        await until(lambda: status(queue, delivery) is DeliveryStatus.SUCCESS)
    assert [a.error_class for a in queue.attempts] == [ErrorClass.ERROR, None]
