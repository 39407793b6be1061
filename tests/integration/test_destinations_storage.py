"""Destinations in storage, on SQLite and PostgreSQL: endpoint rows with a kind and a sealed
configuration, claimed with it unsealed; pollers that get no deliveries but read the
message log through their filters; consumers' positions; rekey of sealed configurations."""

from __future__ import annotations

from typing import Any

from hookline.domain import ids
from hookline.domain.destinations import Destination
from hookline.domain.ids import new_id
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    DeliveryStatus,
    Endpoint,
    Message,
    TriggerType,
)
from hookline.domain.secrets import SecretBox, key_id
from hookline.storage import Storage, storage_from_url
from hookline.storage.base import Cursor, DestinationHealth, Outcome, PollQuery

import pg
from support.database import query

T0 = 1_700_000_000.0
LATER = T0 + 10_000
RABBIT = Destination(
    "rabbitMq", {"uri": "amqp://guest:hunter2@127.0.0.1:5672/%2F", "routingKey": "invoices",
                 "mandatory": True},
)  # fmt: skip
POLLER = Destination("pollingEndpoint", {})


async def an_app(storage: Storage) -> Application:
    app = Application(id=new_id(ids.APPLICATION, T0), name="Acme", created_at=T0, updated_at=T0)
    return await storage.create_application(app)


def a_destination(app: Application, destination: Destination, **fields: Any) -> Endpoint:
    values: dict[str, Any] = {"url": f"{destination.kind}:", "secret": "whsec_" + "A" * 32,
                              "created_at": T0, "updated_at": T0}  # fmt: skip
    values.update(fields)
    return Endpoint(id=new_id(ids.ENDPOINT, T0), app_id=app.id, destination=destination, **values)


def a_message(app: Application, at: float, **fields: Any) -> Message:
    values: dict[str, Any] = {"event_type": "invoice.paid", "payload": b'{"n":1}'}
    values.update(fields)
    return Message(id=new_id(ids.MESSAGE, at), app_id=app.id, created_at=at, **values)


def a_poll(app: Application, poller: Endpoint, **fields: Any) -> PollQuery:
    values: dict[str, Any] = {
        "app_id": app.id, "after": None, "start": ids.floor_id(ids.MESSAGE, T0),
        "before": ids.floor_id(ids.MESSAGE, LATER), "event_types": poller.filter_types,
        "channels": poller.channels,
    }  # fmt: skip
    values.update(fields)
    return PollQuery(**values)


async def test_a_destination_round_trips_with_its_configuration_sealed(
    storage: Storage, database_url: str
) -> None:
    """A destination is stored with its kind; its configuration is ciphertext in the row
    and plaintext in every record read back, listed apart from HTTP endpoints."""
    app = await an_app(storage)
    http = Endpoint(id=new_id(ids.ENDPOINT, T0), app_id=app.id, url="https://example.com/h",
                    secret="whsec_" + "B" * 32, created_at=T0, updated_at=T0)  # fmt: skip
    await storage.create_endpoint(http)
    rabbit = await storage.create_endpoint(a_destination(app, RABBIT))
    assert (await storage.get_endpoint(app.id, rabbit.id)).destination == RABBIT
    kind, config = query(
        database_url, "SELECT destination_kind, destination_config FROM endpoints WHERE id = ?",
        (rabbit.id,),
    )[0]  # fmt: skip
    assert kind == "rabbitMq"
    assert config.startswith("enc:v1:")
    assert "hunter2" not in config
    assert "invoices" not in config
    only_http = await storage.list_endpoints(app.id, Cursor(), destinations=False)
    only_destinations = await storage.list_endpoints(app.id, Cursor(), destinations=True)
    every = await storage.list_endpoints(app.id, Cursor())
    assert [e.id for e in only_http.data] == [http.id]
    assert [e.destination for e in only_destinations.data] == [RABBIT]
    assert {e.id for e in every.data} == {http.id, rabbit.id}


async def test_a_claimed_delivery_carries_its_destination_unsealed(storage: Storage) -> None:
    """Fan-out gives a broker destination a delivery; the claim hands it over with its
    configuration in plaintext, and an HTTP endpoint's delivery with none."""
    app = await an_app(storage)
    rabbit = await storage.create_endpoint(a_destination(app, RABBIT))
    await storage.publish(a_message(app, T0 + 1))
    claimed = await storage.claim("worker-1", LATER, LATER + 30, 10)
    assert [(c.endpoint_id, c.destination) for c in claimed] == [(rabbit.id, RABBIT)]


async def test_a_poller_gets_no_deliveries(storage: Storage) -> None:
    """Publishing to an application with only a poller stores the message and no delivery."""
    app = await an_app(storage)
    await storage.create_endpoint(a_destination(app, POLLER))
    result = await storage.publish(a_message(app, T0 + 1))
    assert result.deliveries == 0
    assert await storage.claim("worker-1", LATER, LATER + 30, 10) == []


async def test_changing_a_destination_to_a_poller_stops_its_deliveries(storage: Storage) -> None:
    """The kind is routing: a broker turned poller gets no more deliveries at once."""
    app = await an_app(storage)
    rabbit = await storage.create_endpoint(a_destination(app, RABBIT))
    assert (await storage.publish(a_message(app, T0 + 1))).deliveries == 1
    await storage.update_endpoint(Endpoint(**{**_fields(rabbit), "destination": POLLER}))
    assert (await storage.publish(a_message(app, T0 + 2))).deliveries == 0


def _fields(endpoint: Endpoint) -> dict[str, Any]:
    return {name: getattr(endpoint, name) for name in Endpoint.__dataclass_fields__}


async def test_a_poll_reads_every_message_once_through_its_filters(storage: Storage) -> None:
    """Pages follow one another with no message twice or skipped; the poller's event types
    (patterns too) and channels filter, and the iterator passes over what they drop."""
    app = await an_app(storage)
    poller = await storage.create_endpoint(
        a_destination(app, POLLER, filter_types=("invoice.*",), channels=("eu",))
    )
    wanted = []
    for n in range(12):
        taken = a_message(app, T0 + 1 + n, channels=("eu",), payload=b'{"n":%d}' % n)
        await storage.publish(taken)
        wanted.append(taken.id)
        await storage.publish(a_message(app, T0 + 1 + n, event_type="user.created",
                                        channels=("eu",)))  # fmt: skip
        await storage.publish(a_message(app, T0 + 1 + n, channels=("us",)))
    seen: list[str] = []
    after = None
    while True:
        page = await storage.poll_messages(a_poll(app, poller, after=after, limit=5))
        seen += [m.id for m in page.messages]
        after = page.iterator
        if page.done:
            break
    assert seen == wanted
    assert (await storage.poll_messages(a_poll(app, poller, after=after))).messages == []
    narrowed = await storage.poll_messages(a_poll(app, poller, channel="us"))
    assert narrowed.messages == []
    assert narrowed.done


async def test_a_poll_leaves_unsettled_messages_for_the_next_read(storage: Storage) -> None:
    """Messages with ids at or above ``before`` are not read, nor stepped over."""
    app = await an_app(storage)
    poller = await storage.create_endpoint(a_destination(app, POLLER))
    early, late = a_message(app, T0 + 1), a_message(app, T0 + 100)
    await storage.publish(early)
    await storage.publish(late)
    settled = ids.floor_id(ids.MESSAGE, T0 + 50)
    first = await storage.poll_messages(a_poll(app, poller, before=settled))
    assert [m.id for m in first.messages] == [early.id]
    assert first.done
    second = await storage.poll_messages(a_poll(app, poller, after=first.iterator))
    assert [m.id for m in second.messages] == [late.id]


async def test_a_consumer_keeps_its_position_and_seeks(storage: Storage) -> None:
    """consumer_poll reads on from where that consumer stopped, each consumer apart; a seek
    moves it; deleting the poller deletes its consumers."""
    app = await an_app(storage)
    poller = await storage.create_endpoint(a_destination(app, POLLER))
    published = [a_message(app, T0 + 1 + n) for n in range(5)]
    for message in published:
        await storage.publish(message)
    poll = a_poll(app, poller, limit=3)
    first = await storage.consumer_poll(poller.id, "alpha", poll, T0)
    second = await storage.consumer_poll(poller.id, "alpha", poll, T0)
    other = await storage.consumer_poll(poller.id, "beta", poll, T0)
    assert [m.id for m in first.messages + second.messages] == [m.id for m in published]
    assert [m.id for m in other.messages] == [m.id for m in published[:3]]
    assert await storage.consumer_position(poller.id, "alpha") == second.iterator
    await storage.seek_consumer(poller.id, "alpha", ids.floor_id(ids.MESSAGE, T0 + 4), T0)
    again = await storage.consumer_poll(poller.id, "alpha", poll, T0)
    assert [m.id for m in again.messages] == [m.id for m in published[3:]]
    await storage.delete_endpoint(app.id, poller.id)
    assert await storage.consumer_position(poller.id, "alpha") is None


async def test_rekey_reseals_destination_configurations(database_url: str) -> None:
    """After a new key is put first, rekey re-seals the destination's configuration too,
    and it reads back the same under the new keyring."""
    old_key, new_key = b"\x01" * 32, b"\x02" * 32
    old_box = SecretBox([old_key])
    store = storage_from_url(database_url, secret_box=old_box)
    await store.open()
    try:
        app = await an_app(store)
        rabbit = await store.create_endpoint(a_destination(app, RABBIT))
    finally:
        await pg.close_promptly(store)
    new_box = SecretBox([new_key, old_key])
    store = storage_from_url(database_url, secret_box=new_box)
    await store.open()
    try:
        result = await store.rekey_secrets()
        assert result.rewritten == 1
        assert (await store.get_endpoint(app.id, rabbit.id)).destination == RABBIT
    finally:
        await pg.close_promptly(store)
    (config,) = query(
        database_url, "SELECT destination_config FROM endpoints WHERE id = ?", (rabbit.id,)
    )[0]
    assert config.startswith(f"enc:v1:{key_id(new_key)}:")


def _outcome(claimed: Any, at: float, code: int, reason: str, retry_at: float | None) -> Outcome:
    ok = code == 200
    attempt = Attempt(
        id=new_id(ids.ATTEMPT, at), delivery_id=claimed.id, msg_id=claimed.msg_id,
        endpoint_id=claimed.endpoint_id, app_id=claimed.app_id, url=claimed.url,
        status=AttemptStatus.SUCCESS if ok else AttemptStatus.FAIL, response_status_code=code,
        response=reason, response_headers={}, duration_ms=3,
        error_class=None if ok else "unroutable", trigger_type=TriggerType.SCHEDULED,
        created_at=at,
    )  # fmt: skip
    if ok:
        status = DeliveryStatus.SUCCESS
    else:
        status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.FAILED
    return Outcome(claimed.id, claimed.endpoint_id, status, retry_at, attempt)


async def test_a_destination_health_is_its_latest_failure_and_next_retry(
    storage: Storage,
) -> None:
    """A destination doing well has no failure reason nor retry; after a failed attempt
    with a retry due, it has the broker's reason and the retry's time, also while a later
    delivery succeeds; once nothing waits and a success is newest, neither."""
    app = await an_app(storage)
    rabbit = await storage.create_endpoint(a_destination(app, RABBIT))
    assert await storage.destination_health([rabbit.id]) == {rabbit.id: DestinationHealth()}
    first, second = a_message(app, T0 + 1), a_message(app, T0 + 2)
    await storage.publish(first)
    await storage.publish(second)
    claimed = {c.msg_id: c for c in await storage.claim("w1", LATER, LATER + 30, 10)}
    reason = "RabbitMQ returned the message: 312 NO_ROUTE"
    retry_at = LATER + 60
    await storage.record("w1", [_outcome(claimed[first.id], LATER, 0, reason, retry_at)], LATER)
    health = await storage.destination_health([rabbit.id])
    assert health == {rabbit.id: DestinationHealth(reason, retry_at)}
    await storage.record("w1", [_outcome(claimed[second.id], LATER + 1, 200, "ok", None)], LATER)
    assert await storage.destination_health([rabbit.id]) == health
    again = await storage.claim("w1", retry_at, retry_at + 30, 10)
    assert [c.msg_id for c in again] == [first.id]
    # While the retry is leased it is not "next": it is being tried.
    assert (await storage.destination_health([rabbit.id]))[rabbit.id].next_retry_at is None
    await storage.record("w1", [_outcome(again[0], retry_at + 1, 200, "ok", None)], retry_at)
    assert await storage.destination_health([rabbit.id]) == {rabbit.id: DestinationHealth()}
