"""The storage contract: what every backend must do, run against SQLite and PostgreSQL alike.

Times are explicit: every test passes its own ``now`` (T0 plus a few seconds), so
leases, retries and windows are exact and nothing depends on the wall clock
except the wake-up tests. Ids are made at distinct seconds where order matters,
because an id sorts by its second and then at random.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hookline.domain import ids, policy
from hookline.domain.ids import new_id
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    DeliveryStatus,
    Endpoint,
    EndpointStats,
    EventType,
    Message,
    SigningKey,
    TriggerType,
)
from hookline.errors import ConflictError, NotFoundError
from hookline.storage import Storage, storage_from_url
from hookline.storage.base import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    ClaimedDelivery,
    Cursor,
    IdempotentResponse,
    MessageFilter,
    Outcome,
)
from hookline.storage.postgres import PostgresStorage

import pg
from support.keyring import TEST_SECRET_BOX

T0 = 1_700_000_000.0
#: A time by which everything the tests publish is due.
LATER = T0 + 10_000
LEASE = 30.0

# --- factories -------------------------------------------------------------------------------


def make_app(*, at: float = T0, uid: str | None = None, name: str = "Acme") -> Application:
    return Application(
        id=new_id(ids.APPLICATION, at), name=name, uid=uid, rate_limit=None,
        metadata={"tier": "gold"}, created_at=at, updated_at=at,
    )  # fmt: skip


def make_endpoint(app: Application, *, at: float = T0, **fields: Any) -> Endpoint:
    values: dict[str, Any] = {
        "url": "https://example.com/hook", "secret": "whsec_" + "A" * 32,
        "headers": {"x-team": "billing"}, "created_at": at, "updated_at": at,
    }  # fmt: skip
    values.update(fields)
    return Endpoint(id=new_id(ids.ENDPOINT, at), app_id=app.id, **values)


def make_message(app: Application, *, at: float = T0, **fields: Any) -> Message:
    values: dict[str, Any] = {"event_type": "invoice.paid", "payload": b'{"amount":42}'}
    values.update(fields)
    return Message(id=new_id(ids.MESSAGE, at), app_id=app.id, created_at=at, **values)


def make_attempt(
    claimed: ClaimedDelivery, *, at: float, code: int = 200, error_class: str | None = None
) -> Attempt:
    ok = 200 <= code < 300
    return Attempt(
        id=new_id(ids.ATTEMPT, at), delivery_id=claimed.id, msg_id=claimed.msg_id,
        endpoint_id=claimed.endpoint_id, app_id=claimed.app_id, url=claimed.url,
        status=AttemptStatus.SUCCESS if ok else AttemptStatus.FAIL, response_status_code=code,
        response='{"ok":true}' if ok else "upstream exploded",
        response_headers={"content-type": "application/json"}, duration_ms=37,
        error_class=error_class,
        trigger_type=TriggerType.MANUAL if claimed.manual else TriggerType.SCHEDULED,
        created_at=at,
    )  # fmt: skip


async def add_app(storage: Storage, **fields: Any) -> Application:
    return await storage.create_application(make_app(**fields))


async def add_endpoint(storage: Storage, app: Application, **fields: Any) -> Endpoint:
    return await storage.create_endpoint(make_endpoint(app, **fields))


async def publish(storage: Storage, app: Application, **fields: Any) -> Message:
    return (await storage.publish(make_message(app, **fields))).message


async def claim_all(
    storage: Storage, *, now: float = LATER, worker: str = "w1", limit: int = 1000
) -> list[ClaimedDelivery]:
    return await storage.claim(worker, now, now + LEASE, limit)


async def record(
    storage: Storage,
    claimed: ClaimedDelivery,
    *,
    at: float,
    code: int = 200,
    retry_at: float | None = None,
    health: str | None = None,
    disable: bool = False,
    worker: str = "w1",
    error_class: str | None = None,
) -> Attempt:
    """Write back one attempt of ``claimed``: success on 2xx, else retry (if given) or failure."""
    attempt = make_attempt(claimed, at=at, code=code, error_class=error_class)
    if 200 <= code < 300:
        status = DeliveryStatus.SUCCESS
    else:
        status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.FAILED
    off = policy.disabled_entry(claimed.app_id, claimed.endpoint_id, at) if disable else None
    outcome = Outcome(
        delivery_id=claimed.id, endpoint_id=claimed.endpoint_id, status=status,
        next_attempt_at=retry_at, attempt=attempt, endpoint_health=health, disabled=off,
    )  # fmt: skip
    await storage.record(worker, [outcome], at)
    return attempt


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Storage]:
    store = storage_from_url(url, secret_box=TEST_SECRET_BOX)
    await store.open()
    try:
        yield store
    finally:
        await pg.close_promptly(store)


def keys(claimed: list[ClaimedDelivery]) -> set[tuple[str, str]]:
    return {(c.msg_id, c.endpoint_id) for c in claimed}


# --- applications -------------------------------------------------------------------------------


async def test_application_is_found_by_id_and_by_uid(storage: Storage) -> None:
    """An application reads back whole by its id and by its uid."""
    app = await add_app(storage, uid="acme")
    assert await storage.get_application(app.id) == app
    assert await storage.get_application("acme") == app
    with pytest.raises(NotFoundError):
        await storage.get_application("nobody")


async def test_application_uid_is_unique(storage: Storage) -> None:
    """A second application with a taken uid conflicts; applications without a uid do not."""
    await add_app(storage, uid="acme")
    with pytest.raises(ConflictError):
        await add_app(storage, uid="acme", at=T0 + 1)
    await add_app(storage, at=T0 + 2)
    await add_app(storage, at=T0 + 3)
    page = await storage.list_applications(Cursor(limit=10))
    assert len(page.data) == 3


async def test_application_list_pages_newest_first(storage: Storage) -> None:
    """The default listing pages from the newest application back, done on the last page."""
    apps = [await add_app(storage, at=T0 + i) for i in range(5)]
    first = await storage.list_applications(Cursor(limit=2))
    assert [a.id for a in first.data] == [apps[4].id, apps[3].id]
    assert (first.done, first.iterator) == (False, apps[3].id)
    second = await storage.list_applications(Cursor(limit=2, iterator=first.iterator))
    assert [a.id for a in second.data] == [apps[2].id, apps[1].id]
    assert not second.done
    third = await storage.list_applications(Cursor(limit=2, iterator=second.iterator))
    assert [a.id for a in third.data] == [apps[0].id]
    assert third.done


async def test_application_list_pages_oldest_first(storage: Storage) -> None:
    """An ascending listing pages from the oldest application on, done on the last page."""
    apps = [await add_app(storage, at=T0 + i) for i in range(5)]
    first = await storage.list_applications(Cursor(limit=2, ascending=True))
    assert [a.id for a in first.data] == [apps[0].id, apps[1].id]
    assert (first.done, first.iterator) == (False, apps[1].id)
    second = await storage.list_applications(
        Cursor(limit=2, iterator=first.iterator, ascending=True)
    )
    assert [a.id for a in second.data] == [apps[2].id, apps[3].id]
    third = await storage.list_applications(
        Cursor(limit=2, iterator=second.iterator, ascending=True)
    )
    assert [a.id for a in third.data] == [apps[4].id]
    assert third.done
    everything = await storage.list_applications(Cursor(limit=5, ascending=True))
    assert everything.done
    assert [a.id for a in everything.data] == [a.id for a in apps]


async def test_application_update_changes_every_field(storage: Storage) -> None:
    """An update replaces name, uid, rate limit and metadata, and a taken uid conflicts."""
    app = await add_app(storage, uid="acme")
    other = await add_app(storage, uid="globex", at=T0 + 1)
    changed = Application(
        id=app.id, name="Acme Corp", uid="acme-corp", rate_limit=50,
        metadata={"tier": "platinum", "region": "eu"}, created_at=app.created_at,
        updated_at=T0 + 60,
    )  # fmt: skip
    assert await storage.update_application(changed) == changed
    assert await storage.get_application(app.id) == changed
    assert await storage.get_application("acme-corp") == changed
    with pytest.raises(NotFoundError):
        await storage.get_application("acme")
    with pytest.raises(ConflictError):
        await storage.update_application(replace(changed, uid="globex"))
    assert await storage.get_application("globex") == other


async def test_application_delete_makes_it_unknown(storage: Storage) -> None:
    """A deleted application is no longer found or listed."""
    app = await add_app(storage, uid="acme")
    kept = await add_app(storage, at=T0 + 1)
    await storage.delete_application(app.id)
    with pytest.raises(NotFoundError):
        await storage.get_application(app.id)
    with pytest.raises(NotFoundError):
        await storage.get_application("acme")
    page = await storage.list_applications(Cursor())
    assert [a.id for a in page.data] == [kept.id]


# --- event types --------------------------------------------------------------------------------


async def test_event_type_round_trips_and_updates(storage: Storage) -> None:
    """An event type reads back whole, and an update replaces its fields."""
    created = EventType(
        name="invoice.paid", description="An invoice was paid",
        schemas={"1": {"type": "object", "properties": {"amount": {"type": "integer"}}}},
        feature_flags=("beta", "gamma"), group_name="invoice", created_at=T0, updated_at=T0,
    )  # fmt: skip
    await storage.create_event_type(created)
    assert await storage.get_event_type("invoice.paid") == created
    updated = EventType(
        name="invoice.paid", description="Paid in full", archived=True, deprecated=True,
        schemas=None, feature_flags=None, group_name=None, created_at=T0, updated_at=T0 + 5,
    )  # fmt: skip
    assert await storage.update_event_type(updated) == updated
    assert await storage.get_event_type("invoice.paid") == updated


async def test_event_type_name_is_unique(storage: Storage) -> None:
    """Creating an event type whose name exists conflicts."""
    await storage.create_event_type(EventType(name="user.created", created_at=T0, updated_at=T0))
    with pytest.raises(ConflictError):
        await storage.create_event_type(EventType(name="user.created", description="again"))
    assert (await storage.get_event_type("user.created")).description == ""


async def test_event_type_list_hides_archived_unless_asked(storage: Storage) -> None:
    """Archived event types are listed only when include_archived is set."""
    for name, archived in [("a.one", False), ("b.two", True), ("c.three", False)]:
        await storage.create_event_type(EventType(name=name, archived=archived))
    live = await storage.list_event_types(Cursor(limit=10), include_archived=False)
    assert [e.name for e in live.data] == ["a.one", "c.three"]
    assert live.done
    every = await storage.list_event_types(Cursor(limit=10), include_archived=True)
    assert [e.name for e in every.data] == ["a.one", "b.two", "c.three"]


async def test_event_type_list_pages_by_name(storage: Storage) -> None:
    """Event types page in name order, the iterator being the last name seen."""
    for name in ["d", "b", "e", "a", "c"]:
        await storage.create_event_type(EventType(name=name))
    first = await storage.list_event_types(Cursor(limit=2), include_archived=False)
    assert ([e.name for e in first.data], first.iterator, first.done) == (["a", "b"], "b", False)
    second = await storage.list_event_types(
        Cursor(limit=2, iterator=first.iterator), include_archived=False
    )
    assert [e.name for e in second.data] == ["c", "d"]
    third = await storage.list_event_types(
        Cursor(limit=2, iterator=second.iterator), include_archived=False
    )
    assert ([e.name for e in third.data], third.done) == (["e"], True)


async def test_event_type_delete_makes_it_unknown(storage: Storage) -> None:
    """A deleted event type is no longer found."""
    await storage.create_event_type(EventType(name="user.created"))
    await storage.delete_event_type("user.created")
    with pytest.raises(NotFoundError):
        await storage.get_event_type("user.created")


# --- endpoints ----------------------------------------------------------------------------------


async def test_endpoint_round_trips_every_field(storage: Storage) -> None:
    """An endpoint reads back whole, by id and by uid."""
    app = await add_app(storage)
    endpoint = make_endpoint(
        app, uid="billing", description="Billing service", version=3,
        filter_types=("invoice.paid", "invoice.void"), channels=("eu", "us"),
        headers={"x-api-key": "k"}, metadata={"owner": "team-b"}, rate_limit=20,
        retry_schedule=(5.0, 300.0, 3600.0),
        old_secrets=(SigningKey("whsec_old", expires_at=T0 + 86400), SigningKey("whsec_older")),
        failing_since=T0 - 30,
    )  # fmt: skip
    assert await storage.create_endpoint(endpoint) == endpoint
    assert await storage.get_endpoint(app.id, endpoint.id) == endpoint
    assert await storage.get_endpoint(app.id, "billing") == endpoint


async def test_endpoint_uid_is_unique_within_an_application_only(storage: Storage) -> None:
    """A uid taken in the same application conflicts; the same uid in another one is fine."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    first = await add_endpoint(storage, app, uid="main")
    with pytest.raises(ConflictError):
        await add_endpoint(storage, app, uid="main", at=T0 + 1)
    elsewhere = await add_endpoint(storage, other, uid="main", at=T0 + 2)
    assert await storage.get_endpoint(app.id, "main") == first
    assert await storage.get_endpoint(other.id, "main") == elsewhere
    page = await storage.list_endpoints(app.id, Cursor())
    assert [e.id for e in page.data] == [first.id]


async def test_endpoint_is_found_only_in_its_application(storage: Storage) -> None:
    """Looking an endpoint up under another application finds nothing."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    endpoint = await add_endpoint(storage, app, uid="main")
    for key in (endpoint.id, "main"):
        with pytest.raises(NotFoundError):
            await storage.get_endpoint(other.id, key)


async def test_endpoint_list_pages_both_ways(storage: Storage) -> None:
    """An application's endpoints page newest first, or oldest first, and no one else's."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    eps = [await add_endpoint(storage, app, at=T0 + i) for i in range(3)]
    await add_endpoint(storage, other, at=T0 + 10)
    first = await storage.list_endpoints(app.id, Cursor(limit=2))
    assert ([e.id for e in first.data], first.done) == ([eps[2].id, eps[1].id], False)
    second = await storage.list_endpoints(app.id, Cursor(limit=2, iterator=first.iterator))
    assert ([e.id for e in second.data], second.done) == ([eps[0].id], True)
    up = await storage.list_endpoints(app.id, Cursor(limit=2, ascending=True))
    assert ([e.id for e in up.data], up.done) == ([eps[0].id, eps[1].id], False)
    rest = await storage.list_endpoints(
        app.id, Cursor(limit=2, iterator=up.iterator, ascending=True)
    )
    assert ([e.id for e in rest.data], rest.done) == ([eps[2].id], True)


async def test_endpoint_update_replaces_fields(storage: Storage) -> None:
    """An update replaces the endpoint's fields, and a uid taken in the app conflicts."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app, uid="main")
    await add_endpoint(storage, app, uid="taken", at=T0 + 1)
    changed = replace(
        endpoint, uid="primary", url="https://example.org/in", filter_types=("user.created",),
        channels=None, headers={}, secret="whsec_new",
        old_secrets=(SigningKey(endpoint.secret, T0 + 3600),), updated_at=T0 + 60,
    )  # fmt: skip
    assert await storage.update_endpoint(changed) == changed
    assert await storage.get_endpoint(app.id, "primary") == changed
    with pytest.raises(ConflictError):
        await storage.update_endpoint(replace(changed, uid="taken"))
    assert await storage.get_endpoint(app.id, endpoint.id) == changed


async def test_endpoint_disabled_by_update_holds_its_backlog(storage: Storage) -> None:
    """Disabling an endpoint through an update holds its pending deliveries."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    await storage.update_endpoint(replace(endpoint, disabled=True, updated_at=T0 + 5))
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.HELD, None)
    assert await claim_all(storage) == []


async def test_endpoint_delete_removes_it_and_its_deliveries(storage: Storage) -> None:
    """A deleted endpoint is gone, with its deliveries, and is no longer published to."""
    app = await add_app(storage)
    doomed, kept = await add_endpoint(storage, app), await add_endpoint(storage, app, at=T0 + 1)
    msg = await publish(storage, app)
    await storage.delete_endpoint(app.id, doomed.id)
    with pytest.raises(NotFoundError):
        await storage.get_endpoint(app.id, doomed.id)
    with pytest.raises(NotFoundError):
        await storage.get_delivery(msg.id, doomed.id)
    assert keys(await claim_all(storage)) == {(msg.id, kept.id)}
    later = await storage.publish(make_message(app, at=T0 + 2))
    assert later.deliveries == 1


# --- publish and fan-out -----------------------------------------------------------------------


async def test_publish_routes_by_event_type_and_channel(storage: Storage) -> None:
    """A message reaches the endpoints whose type filter lists it and whose channels overlap."""
    app = await add_app(storage)
    every = await add_endpoint(storage, app)
    typed = await add_endpoint(storage, app, filter_types=("invoice.paid",))
    channelled = await add_endpoint(storage, app, channels=("eu", "us"))
    both = await add_endpoint(storage, app, filter_types=("invoice.paid",), channels=("eu",))
    cases = [
        ("invoice.paid", ("eu",), {every.id, typed.id, channelled.id, both.id}),
        ("invoice.paid", None, {every.id, typed.id}),
        ("invoice.paid", ("apac",), {every.id, typed.id}),
        ("user.created", ("us", "apac"), {every.id, channelled.id}),
        ("user.created", None, {every.id}),
    ]
    for i, (event_type, channels, expected) in enumerate(cases):
        msg = make_message(app, at=T0 + i, event_type=event_type, channels=channels)
        result = await storage.publish(msg)
        assert result.message == msg
        assert result.deliveries == len(expected)
        for endpoint in (every, typed, channelled, both):
            if endpoint.id in expected:
                delivery = await storage.get_delivery(msg.id, endpoint.id)
                assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
                assert delivery.next_attempt_at == msg.created_at
            else:
                with pytest.raises(NotFoundError):
                    await storage.get_delivery(msg.id, endpoint.id)


async def test_publish_without_filters_reaches_every_endpoint(storage: Storage) -> None:
    """Endpoints without a type filter (absent or empty) or channels take every message."""
    app = await add_app(storage)
    plain = await add_endpoint(storage, app)
    empty = await add_endpoint(storage, app, filter_types=(), channels=())
    msg = await publish(storage, app, event_type="anything.at.all", channels=("x",))
    assert keys(await claim_all(storage)) == {(msg.id, plain.id), (msg.id, empty.id)}


async def test_publish_matching_nothing_still_stores_the_message(storage: Storage) -> None:
    """A message no endpoint wants is stored, with no deliveries."""
    app = await add_app(storage)
    await add_endpoint(storage, app, filter_types=("invoice.paid",))
    msg = make_message(app, event_type="user.created", payload=b'{"name":"\xc3\xa9mile"}')
    result = await storage.publish(msg)
    assert result.deliveries == 0
    assert await storage.get_message(app.id, msg.id) == msg
    assert await claim_all(storage) == []
    assert await storage.next_due() is None


async def test_publish_to_disabled_endpoint_holds_the_delivery(storage: Storage) -> None:
    """A disabled endpoint gets a held delivery, never a pending one, so it is not claimed."""
    app = await add_app(storage)
    disabled = await add_endpoint(storage, app, disabled=True)
    msg = await publish(storage, app)
    delivery = await storage.get_delivery(msg.id, disabled.id)
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.HELD, None)
    assert await claim_all(storage) == []
    assert await storage.next_due() is None


async def test_publish_duplicate_event_id_conflicts_and_writes_nothing(storage: Storage) -> None:
    """A second message with a taken eventId conflicts and leaves no message or delivery."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    await add_endpoint(storage, app)
    await add_endpoint(storage, app, at=T0 + 1)
    await add_endpoint(storage, other)
    first = await publish(storage, app, event_id="evt-1")
    again = make_message(app, at=T0 + 5, event_id="evt-1", event_type="user.created")
    with pytest.raises(ConflictError):
        await storage.publish(again)
    with pytest.raises(NotFoundError):
        await storage.get_message(app.id, again.id)
    assert await storage.get_message(app.id, "evt-1") == first
    claimed = await claim_all(storage)
    assert {c.msg_id for c in claimed} == {first.id}
    assert len(claimed) == 2
    elsewhere = await storage.publish(make_message(other, event_id="evt-1"))
    assert elsewhere.deliveries == 1


async def test_publish_many_stores_each_in_order_and_reports_a_missing_app_alone(
    storage: Storage,
) -> None:
    """Many publishes in one call: one outcome each, in order; an unknown application
    gets its NotFoundError and the others (by id or uid, in two apps) are stored."""
    app = await add_app(storage, uid="acme")
    other = await add_app(storage, at=T0 + 1)
    ep = await add_endpoint(storage, app)
    typed = await add_endpoint(storage, app, filter_types=("user.created",))
    elsewhere = await add_endpoint(storage, other)
    by_uid = replace(make_message(app, at=T0 + 2), app_id="acme")
    messages = [
        make_message(app, at=T0 + 1, event_type="user.created"),
        by_uid,
        replace(make_message(app, at=T0 + 3), app_id="app_gone"),
        make_message(other, at=T0 + 4, event_id="evt-9"),
    ]
    outcomes = await storage.publish_many(messages)
    assert len(outcomes) == 4
    first, second, missing, fourth = outcomes
    assert isinstance(missing, NotFoundError)
    assert not isinstance(first, Exception)
    assert not isinstance(second, Exception)
    assert not isinstance(fourth, Exception)
    assert (first.message, first.deliveries) == (messages[0], 2)
    assert (second.message, second.deliveries) == (replace(by_uid, app_id=app.id), 1)
    assert (fourth.message, fourth.deliveries) == (messages[3], 1)
    assert keys(await claim_all(storage)) == {
        (messages[0].id, ep.id), (messages[0].id, typed.id), (by_uid.id, ep.id),
        (messages[3].id, elsewhere.id),
    }  # fmt: skip
    with pytest.raises(NotFoundError):
        await storage.get_message(app.id, messages[2].id)


async def test_publish_many_inserts_a_large_fan_out_in_chunks(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliveries of many messages go in several inserts once they pass the chunk size;
    every one is stored, each message counts its own."""
    from hookline.storage.sql import fanout

    monkeypatch.setattr(fanout, "DELIVERY_ROWS_PER_INSERT", 5)
    app = await add_app(storage)
    endpoints = [await add_endpoint(storage, app, at=T0 + i) for i in range(3)]
    messages = [make_message(app, at=T0 + 10 + i) for i in range(4)]
    outcomes = await storage.publish_many(messages)
    assert [o.deliveries for o in outcomes if not isinstance(o, Exception)] == [3, 3, 3, 3]
    assert keys(await claim_all(storage)) == {(m.id, e.id) for m in messages for e in endpoints}


async def test_publish_many_with_a_taken_event_id_raises_and_stores_none(storage: Storage) -> None:
    """One taken eventId in a batch fails the whole call: no message of it is stored."""
    app = await add_app(storage)
    await add_endpoint(storage, app)
    await publish(storage, app, event_id="evt-1")
    fresh = make_message(app, at=T0 + 1, event_id="evt-2")
    taken = make_message(app, at=T0 + 2, event_id="evt-1")
    with pytest.raises(ConflictError, match="evt-1"):
        await storage.publish_many([fresh, taken])
    for message in (fresh, taken):
        with pytest.raises(NotFoundError):
            await storage.get_message(app.id, message.id)
    assert len(await claim_all(storage)) == 1


async def test_message_is_found_by_id_and_event_id_within_its_app(storage: Storage) -> None:
    """A message reads back whole (exact payload bytes) by id or eventId, only in its app."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    msg = make_message(
        app, event_id="evt-42", payload=b'{"b": 1,  "a": "\xe2\x82\xac"}', channels=("eu",),
        tags=("vip", "retry"),
    )  # fmt: skip
    await storage.publish(msg)
    assert await storage.get_message(app.id, msg.id) == msg
    assert await storage.get_message(app.id, "evt-42") == msg
    with pytest.raises(NotFoundError):
        await storage.get_message(other.id, msg.id)


# --- listing messages ---------------------------------------------------------------------------


async def test_list_messages_filters_by_event_types(storage: Storage) -> None:
    """Only messages of the listed event types are listed."""
    app = await add_app(storage)
    types = ["a.created", "b.created", "c.created", "a.created"]
    msgs = [await publish(storage, app, at=T0 + i, event_type=t) for i, t in enumerate(types)]
    where = MessageFilter(event_types=["a.created", "c.created"])
    page = await storage.list_messages(app.id, Cursor(), where)
    assert [m.id for m in page.data] == [msgs[3].id, msgs[2].id, msgs[0].id]


async def test_list_messages_filters_by_channel(storage: Storage) -> None:
    """Only messages carrying the channel are listed; a channel that merely contains it is not."""
    app = await add_app(storage)
    channel_sets = [("eu",), ("us", "eu"), ("eu-west",), None, ("us",)]
    msgs = [await publish(storage, app, at=T0 + i, channels=c) for i, c in enumerate(channel_sets)]
    page = await storage.list_messages(app.id, Cursor(), MessageFilter(channel="eu"))
    assert [m.id for m in page.data] == [msgs[1].id, msgs[0].id]


async def test_list_messages_channel_filter_is_case_sensitive(storage: Storage) -> None:
    """The channel filter matches names exactly, as routing does: "EU" is not "eu"."""
    app = await add_app(storage)
    await publish(storage, app, channels=("EU",))
    page = await storage.list_messages(app.id, Cursor(), MessageFilter(channel="eu"))
    assert page.data == []


async def test_list_messages_channel_filter_treats_wildcards_literally(storage: Storage) -> None:
    """A "_" in a channel filter is a plain character, not a one-character pattern."""
    app = await add_app(storage)
    await publish(storage, app, channels=("projectx1",))
    wanted = await publish(storage, app, at=T0 + 1, channels=("project_1",))
    page = await storage.list_messages(app.id, Cursor(), MessageFilter(channel="project_1"))
    assert [m.id for m in page.data] == [wanted.id]


async def test_list_messages_filters_by_tag(storage: Storage) -> None:
    """Only messages carrying the tag are listed; a tag that merely contains it is not."""
    app = await add_app(storage)
    tag_sets = [("vip",), ("vip", "eu"), ("vipx",), None]
    msgs = [await publish(storage, app, at=T0 + i, tags=t) for i, t in enumerate(tag_sets)]
    page = await storage.list_messages(app.id, Cursor(), MessageFilter(tag="vip"))
    assert [m.id for m in page.data] == [msgs[1].id, msgs[0].id]


async def test_list_messages_tag_filter_treats_wildcards_literally(storage: Storage) -> None:
    """A "%" in a tag filter is a plain character, not an any-characters pattern."""
    app = await add_app(storage)
    await publish(storage, app, tags=("order-1-7",))
    wanted = await publish(storage, app, at=T0 + 1, tags=("order%7",))
    page = await storage.list_messages(app.id, Cursor(), MessageFilter(tag="order%7"))
    assert [m.id for m in page.data] == [wanted.id]


async def test_list_messages_filters_by_time_window(storage: Storage) -> None:
    """Only messages created in [since, until) are listed."""
    app = await add_app(storage)
    msgs = [await publish(storage, app, at=T0 + 10 * i) for i in range(5)]
    where = MessageFilter(since=T0 + 10, until=T0 + 40)
    page = await storage.list_messages(app.id, Cursor(), where)
    assert [m.id for m in page.data] == [msgs[3].id, msgs[2].id, msgs[1].id]


async def test_list_messages_pages_newest_first_in_its_app(storage: Storage) -> None:
    """Messages page newest first, done on the last page, and only the application's own."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    msgs = [await publish(storage, app, at=T0 + i) for i in range(3)]
    await publish(storage, other, at=T0 + 5)
    first = await storage.list_messages(app.id, Cursor(limit=2), MessageFilter())
    assert ([m.id for m in first.data], first.done) == ([msgs[2].id, msgs[1].id], False)
    second = await storage.list_messages(
        app.id, Cursor(limit=2, iterator=first.iterator), MessageFilter()
    )
    assert ([m.id for m in second.data], second.done) == ([msgs[0].id], True)


async def test_list_messages_pages_oldest_first(storage: Storage) -> None:
    """An ascending message listing pages from the oldest on, like the other lists."""
    app = await add_app(storage)
    msgs = [await publish(storage, app, at=T0 + i) for i in range(5)]
    first = await storage.list_messages(app.id, Cursor(limit=2, ascending=True), MessageFilter())
    assert ([m.id for m in first.data], first.done) == ([msgs[0].id, msgs[1].id], False)
    second = await storage.list_messages(
        app.id, Cursor(limit=2, iterator=first.iterator, ascending=True), MessageFilter()
    )
    assert ([m.id for m in second.data], second.done) == ([msgs[2].id, msgs[3].id], False)


# --- claiming -----------------------------------------------------------------------------------


async def test_claim_hands_out_everything_needed_to_send(storage: Storage) -> None:
    """A claimed delivery carries the payload, URL, secrets, headers and schedule."""
    app = await add_app(storage)
    old = (SigningKey("whsec_old", expires_at=T0 + 60),)
    endpoint = await add_endpoint(
        storage, app, url="https://example.com/in", headers={"x-k": "v"}, old_secrets=old,
        retry_schedule=(1.0, 2.0),
    )  # fmt: skip
    msg = await publish(storage, app, payload=b'{"id":1}')
    [claimed] = await storage.claim("w1", T0, T0 + LEASE, 10)
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert claimed == ClaimedDelivery(
        id=delivery.id, msg_id=msg.id, endpoint_id=endpoint.id, app_id=app.id, attempts=0,
        manual=False, event_type="invoice.paid", payload=b'{"id":1}',
        url="https://example.com/in", endpoint_disabled=False, headers={"x-k": "v"},
        secret=endpoint.secret, old_secrets=old, retry_schedule=(1.0, 2.0), failing_since=None,
    )  # fmt: skip


async def test_claim_takes_oldest_due_first_and_respects_the_limit(storage: Storage) -> None:
    """Claims lease at most ``limit`` deliveries, the earliest due first, whatever their age."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msgs = [await publish(storage, app, at=T0 + i) for i in range(4)]
    [first] = await storage.claim("w1", T0 + 100, T0 + 100 + LEASE, 1)
    assert first.msg_id == msgs[0].id
    # Push the oldest message's delivery to the back of the queue with a retry.
    await record(storage, first, at=T0 + 101, code=503, retry_at=T0 + 500)
    due_order = []
    for _ in range(4):
        [claimed] = await storage.claim("w1", T0 + 1000, T0 + 1000 + LEASE, 1)
        due_order.append(claimed.msg_id)
    assert due_order == [msgs[1].id, msgs[2].id, msgs[3].id, msgs[0].id]
    assert await storage.claim("w1", T0 + 1000, T0 + 1000 + LEASE, 1) == []
    await publish(storage, app, at=T0 + 10)
    await publish(storage, app, at=T0 + 11)
    await publish(storage, app, at=T0 + 12)
    batch = await storage.claim("w2", T0 + 1000, T0 + 1000 + LEASE, 2)
    assert len(batch) == 2
    stats = await storage.endpoint_stats(app.id, endpoint.id, BEGINNING, END_OF_TIME)
    assert (stats.sending, stats.pending) == (6, 1)


async def test_claim_skips_deliveries_not_yet_due(storage: Storage) -> None:
    """A delivery is claimable from its due time on, not before."""
    app = await add_app(storage)
    await add_endpoint(storage, app)
    msg = await publish(storage, app, at=T0 + 50)
    assert await storage.claim("w1", T0 + 49.9, T0 + 80, 10) == []
    assert [c.msg_id for c in await storage.claim("w1", T0 + 50, T0 + 80, 10)] == [msg.id]


async def test_claimed_delivery_is_not_claimed_again_during_its_lease(storage: Storage) -> None:
    """While a lease runs, no other worker gets the delivery."""
    app = await add_app(storage)
    await add_endpoint(storage, app)
    await publish(storage, app)
    assert len(await storage.claim("w1", T0, T0 + LEASE, 10)) == 1
    assert await storage.claim("w2", T0 + 1, T0 + 1 + LEASE, 10) == []
    assert await storage.claim("w2", T0 + LEASE - 0.001, T0 + 2 * LEASE, 10) == []


async def test_claimed_delivery_is_claimed_again_after_its_lease(storage: Storage) -> None:
    """A lease that ran out (a crashed worker) lets another worker claim the delivery."""
    app = await add_app(storage)
    await add_endpoint(storage, app)
    await publish(storage, app)
    [first] = await storage.claim("w1", T0, T0 + LEASE, 10)
    [again] = await storage.claim("w2", T0 + LEASE, T0 + 2 * LEASE, 10)
    assert again.id == first.id
    assert again.attempts == 0


async def test_claim_skips_endpoints_at_their_cap(storage: Storage) -> None:
    """Deliveries to an endpoint already at its in-flight cap stay queued."""
    app = await add_app(storage)
    busy, free = await add_endpoint(storage, app), await add_endpoint(storage, app, at=T0 + 1)
    msg = await publish(storage, app)
    claimed = await storage.claim("w1", LATER, LATER + LEASE, 10, busy={busy.id: 4}, per_endpoint=4)
    assert keys(claimed) == {(msg.id, free.id)}
    assert keys(await claim_all(storage)) == {(msg.id, busy.id)}


async def test_claim_fills_each_endpoint_up_to_its_cap_only(storage: Storage) -> None:
    """A claim takes per endpoint only what its free in-flight slots can send, oldest first."""
    app = await add_app(storage)
    crowded = await add_endpoint(storage, app)
    msgs = [await publish(storage, app, at=T0 + i) for i in range(10)]
    other = await add_endpoint(storage, app, at=T0 + 20)
    late = await publish(storage, app, at=T0 + 30)
    claimed = await storage.claim(
        "w1", LATER, LATER + LEASE, 100, busy={crowded.id: 1}, per_endpoint=3
    )
    assert [c.msg_id for c in claimed if c.endpoint_id == crowded.id] == [m.id for m in msgs[:2]]
    assert [(c.msg_id, c.endpoint_id) for c in claimed if c.endpoint_id != crowded.id] == [
        (late.id, other.id)
    ]


async def test_release_makes_the_delivery_due_as_before(storage: Storage) -> None:
    """A released delivery is unleased and due at its old time, with no attempt counted."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app, at=T0 + 5)
    [claimed] = await storage.claim("w1", T0 + 10, T0 + 10 + LEASE, 10)
    await storage.release("w2", [claimed.id])  # not its lease: nothing happens
    assert await storage.claim("w3", T0 + 11, T0 + 11 + LEASE, 10) == []
    await storage.release("w1", [claimed.id])
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert delivery.next_attempt_at == T0 + 5
    assert await storage.next_due() == T0 + 5
    [again] = await storage.claim("w3", T0 + 5, T0 + 5 + LEASE, 10)
    assert again.id == claimed.id


# --- recording outcomes --------------------------------------------------------------------------


async def test_record_success_finishes_delivery_and_logs_the_attempt(storage: Storage) -> None:
    """A success marks the delivery done, counts the attempt and logs it whole."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    [claimed] = await claim_all(storage)
    attempt = await record(storage, claimed, at=T0 + 20, code=204)
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCESS, 1)
    assert (delivery.next_attempt_at, delivery.updated_at) == (None, T0 + 20)
    by_msg = await storage.list_attempts(app.id, Cursor(), AttemptFilter(msg_id=msg.id))
    by_endpoint = await storage.list_attempts(
        app.id, Cursor(), AttemptFilter(endpoint_id=endpoint.id)
    )
    assert by_msg.data == [attempt]
    assert by_endpoint.data == [attempt]
    assert await claim_all(storage) == []


async def test_record_failure_without_retry_fails_the_delivery(storage: Storage) -> None:
    """A final failure marks the delivery failed and it is not claimed again."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    [claimed] = await claim_all(storage)
    attempt = await record(storage, claimed, at=T0 + 20, code=0, error_class="timeout")
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert await storage.get_attempt(app.id, msg.id, attempt.id) == attempt
    assert await claim_all(storage) == []


async def test_record_retry_requeues_for_the_next_attempt_time(storage: Storage) -> None:
    """A retry leaves the delivery pending, claimable at its next attempt time and not before."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    [claimed] = await storage.claim("w1", T0, T0 + LEASE, 10)
    await record(storage, claimed, at=T0 + 1, code=500, retry_at=T0 + 60)
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at == T0 + 60
    assert await storage.next_due() == T0 + 60
    assert await storage.claim("w1", T0 + 59.9, T0 + 90, 10) == []
    [again] = await storage.claim("w1", T0 + 60, T0 + 90, 10)
    assert (again.id, again.attempts) == (claimed.id, 1)


async def test_record_from_a_worker_that_lost_its_lease_changes_nothing(storage: Storage) -> None:
    """Once another worker re-claimed a delivery, the old worker's outcome is ignored."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    [stale] = await storage.claim("w1", T0, T0 + LEASE, 10)
    [fresh] = await storage.claim("w2", T0 + LEASE + 1, T0 + 2 * LEASE + 1, 10)
    await record(storage, stale, at=T0 + LEASE + 2, code=200, worker="w1")
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert delivery.next_attempt_at == T0 + 2 * LEASE + 1
    assert await storage.claim("w3", T0 + LEASE + 3, T0 + 90, 10) == []
    await record(storage, fresh, at=T0 + LEASE + 4, code=500, worker="w2", retry_at=T0 + 500)
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at == T0 + 500


async def test_record_without_attempt_holds_the_delivery(storage: Storage) -> None:
    """An outcome with no request (endpoint found disabled) holds the delivery, uncounted."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    [claimed] = await claim_all(storage)
    outcome = Outcome(claimed.id, endpoint.id, DeliveryStatus.HELD, None, None)
    await storage.record("w1", [outcome], T0 + 5)
    delivery = await storage.get_delivery(msg.id, endpoint.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.HELD, 0)
    page = await storage.list_attempts(app.id, Cursor(), AttemptFilter())
    assert page.data == []


async def test_one_batch_of_outcomes_sets_and_clears_the_health_of_each_endpoint(
    storage: Storage,
) -> None:
    """Health is written for all of a batch's endpoints at once; each gets its own news."""
    app = await add_app(storage)
    endpoints = [await add_endpoint(storage, app) for _ in range(3)]
    for i in range(2):  # each message goes to all three endpoints
        await publish(storage, app, at=T0 + i)
    claimed = await storage.claim("w1", T0 + 10, LATER, 10)
    assert len(claimed) == 6
    first = {c.endpoint_id: c for c in reversed(claimed)}
    second = [c for c in claimed if first[c.endpoint_id] is not c]

    def outcome(claim: ClaimedDelivery, health: dict[str, str], at: float) -> Outcome:
        return Outcome(
            delivery_id=claim.id, endpoint_id=claim.endpoint_id, status=DeliveryStatus.SUCCESS,
            next_attempt_at=None, attempt=make_attempt(claim, at=at, code=200),
            endpoint_health=health.get(claim.endpoint_id),
        )  # fmt: skip

    def outcomes(batch: list[ClaimedDelivery], health: dict[str, str], at: float) -> list[Outcome]:
        return [outcome(claim, health, at) for claim in batch]

    a, b, c = (endpoint.id for endpoint in endpoints)
    failing = {a: "failing", b: "failing"}
    await storage.record("w1", outcomes(list(first.values()), failing, T0 + 50), T0 + 50)
    since = {e.id: (await storage.get_endpoint(app.id, e.id)).failing_since for e in endpoints}
    assert since == {a: T0 + 50, b: T0 + 50, c: None}
    await storage.record("w1", outcomes(second, {a: "ok", b: "failing", c: "ok"}, T0 + 60), T0 + 60)
    since = {e.id: (await storage.get_endpoint(app.id, e.id)).failing_since for e in endpoints}
    assert since == {a: None, b: T0 + 50, c: None}


async def test_endpoint_health_marks_failing_once_and_clears_on_ok(storage: Storage) -> None:
    """The first "failing" report sets failing_since, later ones keep it; "ok" clears it."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    for i in range(4):
        await publish(storage, app, at=T0 + i)
    claimed = await storage.claim("w1", T0 + 10, LATER, 10)
    await record(storage, claimed[0], at=T0 + 100, code=500, retry_at=T0 + 200, health="failing")
    assert (await storage.get_endpoint(app.id, endpoint.id)).failing_since == T0 + 100
    await record(storage, claimed[1], at=T0 + 150, code=500, retry_at=T0 + 200, health="failing")
    assert (await storage.get_endpoint(app.id, endpoint.id)).failing_since == T0 + 100
    [retried] = await storage.claim("w1", T0 + 200, T0 + 200 + LEASE, 1)
    assert retried.failing_since == T0 + 100
    await record(storage, claimed[2], at=T0 + 160, code=200, health="ok")
    assert (await storage.get_endpoint(app.id, endpoint.id)).failing_since is None


async def test_record_disable_endpoint_holds_its_other_deliveries(storage: Storage) -> None:
    """Disabling an endpoint from an outcome turns it off and holds its pending deliveries."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    bystander = await add_endpoint(storage, app, at=T0 + 1, filter_types=("user.created",))
    msgs = [await publish(storage, app, at=T0 + i) for i in range(3)]
    other = await publish(storage, app, at=T0 + 3, event_type="user.created")
    [claimed] = await storage.claim("w1", T0 + 10, T0 + 10 + LEASE, 1)
    assert claimed.msg_id == msgs[0].id
    await record(storage, claimed, at=T0 + 20, code=500, health="failing", disable=True)
    off = await storage.get_endpoint(app.id, endpoint.id)
    assert (off.disabled, off.updated_at) == (True, T0 + 20)
    first = await storage.get_delivery(msgs[0].id, endpoint.id)
    assert (first.status, first.attempts) == (DeliveryStatus.FAILED, 1)
    for msg in msgs[1:]:
        held = await storage.get_delivery(msg.id, endpoint.id)
        assert (held.status, held.next_attempt_at) == (DeliveryStatus.HELD, None)
    assert keys(await claim_all(storage)) == {(other.id, bystander.id)}
    assert not (await storage.get_endpoint(app.id, bystander.id)).disabled


async def test_next_due_is_the_earliest_pending_due_time(storage: Storage) -> None:
    """next_due follows the earliest pending delivery, and is None when nothing is pending."""
    assert await storage.next_due() is None
    app = await add_app(storage)
    await add_endpoint(storage, app)
    await publish(storage, app, at=T0 + 30)
    await publish(storage, app, at=T0 + 10)
    assert await storage.next_due() == T0 + 10
    [early] = await storage.claim("w1", T0 + 10, T0 + 10 + LEASE, 1)
    await record(storage, early, at=T0 + 11)
    assert await storage.next_due() == T0 + 30
    [late] = await claim_all(storage)
    await record(storage, late, at=LATER + 1)
    assert await storage.next_due() is None


# --- resend, recover, stats --------------------------------------------------------------------


async def test_resend_requeues_a_finished_delivery(storage: Storage) -> None:
    """Resending queues the delivery again now, as a manual attempt, claimable from then on."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app)
    [claimed] = await claim_all(storage)
    await record(storage, claimed, at=LATER + 1)
    resent = await storage.resend(app.id, msg.id, endpoint.id, T0 + 20_000)
    assert (resent.id, resent.status, resent.attempts) == (claimed.id, DeliveryStatus.PENDING, 1)
    assert (resent.next_attempt_at, resent.updated_at) == (T0 + 20_000, T0 + 20_000)
    assert await storage.get_delivery(msg.id, endpoint.id) == resent
    assert await storage.claim("w1", T0 + 19_999, T0 + 20_100, 10) == []
    [again] = await storage.claim("w1", T0 + 20_000, T0 + 20_100, 10)
    assert (again.id, again.manual, again.attempts) == (claimed.id, True, 1)
    await record(storage, again, at=T0 + 20_001)
    [attempt, _first] = (await storage.list_attempts(app.id, Cursor(), AttemptFilter())).data
    assert attempt.trigger_type == TriggerType.MANUAL


async def test_resend_creates_a_delivery_for_an_endpoint_without_one(storage: Storage) -> None:
    """Resending to an endpoint the message never went to creates a claimable delivery."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app, uid="late", filter_types=("user.created",))
    msg = await publish(storage, app, event_id="evt-9")
    with pytest.raises(NotFoundError):
        await storage.get_delivery(msg.id, endpoint.id)
    resent = await storage.resend(app.id, "evt-9", "late", T0 + 50)
    assert (resent.msg_id, resent.endpoint_id, resent.app_id) == (msg.id, endpoint.id, app.id)
    assert (resent.status, resent.attempts, resent.next_attempt_at) == (
        DeliveryStatus.PENDING,
        0,
        T0 + 50,
    )
    assert await storage.get_delivery(msg.id, endpoint.id) == resent
    assert await storage.next_due() == T0 + 50
    [claimed] = await storage.claim("w1", T0 + 50, T0 + 80, 10)
    assert (claimed.id, claimed.manual) == (resent.id, True)
    with pytest.raises(NotFoundError):
        await storage.resend(app.id, "no-such-message", endpoint.id, T0 + 60)


async def test_recover_requeues_failed_and_held_in_the_window_only(storage: Storage) -> None:
    """Recover re-queues the endpoint's failed and held deliveries created in [since, until)."""
    app = await add_app(storage)
    failing = await add_endpoint(storage, app)
    off = await add_endpoint(storage, app, at=T0 + 1, disabled=True)
    times = [T0, T0 + 10, T0 + 15, T0 + 20, T0 + 30]
    msgs = [await publish(storage, app, at=t) for t in times]
    for claimed in await claim_all(storage):
        ok = claimed.msg_id == msgs[2].id  # the one success inside the window
        await record(storage, claimed, at=LATER + 1, code=200 if ok else 500)
    window = (T0 + 10, T0 + 30)
    started = await storage.recover(app.id, failing.id, *window, now=LATER + 100)
    assert (started.task, started.status, started.data) == (
        "endpoint.recover", "running", {"messagesSent": 0},
    )  # fmt: skip
    await storage.recover(app.id, off.id, *window, now=LATER + 100)
    # A worker runs the jobs (``delivery.maintenance.JobRunner``): each to its end here.
    done = []
    while (task_id := await storage.claim_job("w1", LATER + 100, LATER + 160)) is not None:
        task = await storage.run_job_batch(task_id, "w1", LATER + 100, LATER + 160)
        done.append(task)
    # Both tasks were made in the same instant: their ids do not say which came first.
    [first] = [t for t in done if t.id == started.id]
    [second] = [t for t in done if t.id != started.id]
    assert (first.status, first.data) == ("finished", {"messagesSent": 2})
    assert (second.status, second.data) == ("finished", {"messagesSent": 3})
    assert (await storage.get_task(first.id)).data == first.data
    listed = await storage.list_tasks(Cursor(), status="finished", task="endpoint.recover")
    assert {t.id for t in listed.data} == {first.id, second.id}  # made in the same instant
    expected = {
        failing.id: {msgs[1].id, msgs[3].id},
        off.id: {msgs[1].id, msgs[2].id, msgs[3].id},
    }
    untouched = {failing.id: DeliveryStatus.FAILED, off.id: DeliveryStatus.HELD}
    for endpoint_id, recovered in expected.items():
        for msg in msgs:
            delivery = await storage.get_delivery(msg.id, endpoint_id)
            if msg.id in recovered:
                assert delivery.status == DeliveryStatus.PENDING
                assert delivery.next_attempt_at == LATER + 100
            elif msg.id != msgs[2].id or endpoint_id != failing.id:
                assert delivery.status == untouched[endpoint_id]
    assert (await storage.get_delivery(msgs[2].id, failing.id)).status == DeliveryStatus.SUCCESS
    claimed = await storage.claim("w1", LATER + 100, LATER + 200, 100)
    assert len(claimed) == 5
    assert all(c.manual for c in claimed)


async def test_endpoint_stats_counts_deliveries_by_state(storage: Storage) -> None:
    """Stats count success, queued, in-flight and failed or held deliveries in the window."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    off = await add_endpoint(storage, app, at=T0 + 1, disabled=True)
    msgs = [await publish(storage, app, at=T0 + i) for i in range(5)]
    claimed = await storage.claim("w1", T0 + 2.5, T0 + 100, 10)  # msgs 0, 1, 2
    assert [c.msg_id for c in claimed] == [m.id for m in msgs[:3]]
    await record(storage, claimed[0], at=T0 + 3, code=200)
    await record(storage, claimed[1], at=T0 + 3, code=410)
    everything = await storage.endpoint_stats(app.id, endpoint.id, BEGINNING, END_OF_TIME)
    assert everything == EndpointStats(success=1, pending=2, sending=1, fail=1)
    window = await storage.endpoint_stats(app.id, endpoint.id, T0 + 1, T0 + 4)
    assert window == EndpointStats(success=0, pending=1, sending=1, fail=1)
    held = await storage.endpoint_stats(app.id, off.id, BEGINNING, END_OF_TIME)
    assert held == EndpointStats(fail=5)
    with pytest.raises(NotFoundError):
        await storage.endpoint_stats(app.id, "ep_nope", BEGINNING, END_OF_TIME)


# --- attempts ----------------------------------------------------------------------------------


async def test_get_attempt_finds_it_under_its_message_only(storage: Storage) -> None:
    """An attempt reads back whole under its own message, and not under another."""
    app = await add_app(storage)
    await add_endpoint(storage, app)
    msg, other = await publish(storage, app), await publish(storage, app, at=T0 + 1)
    [claimed] = await storage.claim("w1", T0, T0 + LEASE, 10)
    attempt = await record(storage, claimed, at=T0 + 5, code=302)
    assert await storage.get_attempt(app.id, msg.id, attempt.id) == attempt
    with pytest.raises(NotFoundError):
        await storage.get_attempt(app.id, other.id, attempt.id)
    with pytest.raises(NotFoundError):
        await storage.get_attempt(app.id, msg.id, new_id(ids.ATTEMPT, T0))


async def _attempt_log(
    storage: Storage,
) -> tuple[Application, list[Endpoint], list[Message], list[Attempt]]:
    """Five attempts: m1->e1 500 then 200, m1->e2 timeout, m2->e1 200, m2->e2 404."""
    app = await add_app(storage)
    eps = [await add_endpoint(storage, app, at=T0 + i) for i in range(2)]
    msgs = [await publish(storage, app, at=T0 + i) for i in range(2)]
    claimed = {(c.msg_id, c.endpoint_id): c for c in await claim_all(storage)}
    m1, m2, e1, e2 = msgs[0].id, msgs[1].id, eps[0].id, eps[1].id
    log = [await record(storage, claimed[m1, e1], at=LATER + 1, code=500, retry_at=LATER + 2)]
    [retry] = await storage.claim("w1", LATER + 2, LATER + 2 + LEASE, 10)
    log.append(await record(storage, retry, at=LATER + 3, code=200))
    log.append(await record(storage, claimed[m1, e2], at=LATER + 4, code=0, error_class="timeout"))
    log.append(await record(storage, claimed[m2, e1], at=LATER + 5, code=201))
    log.append(await record(storage, claimed[m2, e2], at=LATER + 6, code=404))
    return app, eps, msgs, log


async def test_list_attempts_filters(storage: Storage) -> None:
    """Attempts filter by status, status code class, endpoint and message, newest first."""
    app, eps, msgs, log = await _attempt_log(storage)

    async def listed(**where: Any) -> list[Attempt]:
        return (await storage.list_attempts(app.id, Cursor(), AttemptFilter(**where))).data

    assert await listed() == log[::-1]
    assert await listed(status=AttemptStatus.SUCCESS) == [log[3], log[1]]
    assert await listed(status=AttemptStatus.FAIL) == [log[4], log[2], log[0]]
    assert await listed(status_code_class=200) == [log[3], log[1]]
    assert await listed(status_code_class=400) == [log[4]]
    assert await listed(status_code_class=500) == [log[0]]
    assert await listed(status_code_class=0) == [log[2]]
    assert await listed(endpoint_id=eps[0].id) == [log[3], log[1], log[0]]
    assert await listed(msg_id=msgs[0].id) == [log[2], log[1], log[0]]
    assert await listed(msg_id=msgs[0].id, endpoint_id=eps[0].id) == [log[1], log[0]]
    assert await listed(since=LATER + 3, until=LATER + 5) == [log[2], log[1]]
    other = await add_app(storage, at=T0 + 9)
    assert (await storage.list_attempts(other.id, Cursor(), AttemptFilter())).data == []


async def test_list_attempts_pages_newest_first(storage: Storage) -> None:
    """Attempts page newest first, with done on the last page."""
    app, _, _, log = await _attempt_log(storage)
    seen, cursor = [], Cursor(limit=2)
    while True:
        page = await storage.list_attempts(app.id, cursor, AttemptFilter())
        seen.append([a.id for a in page.data])
        if page.done:
            break
        cursor = Cursor(limit=2, iterator=page.iterator)
    newest_first = [a.id for a in log[::-1]]
    assert seen == [newest_first[0:2], newest_first[2:4], newest_first[4:]]


async def test_list_attempts_pages_oldest_first(storage: Storage) -> None:
    """An ascending attempt listing pages from the oldest on, like the other lists."""
    app, _, _, log = await _attempt_log(storage)
    up = await storage.list_attempts(app.id, Cursor(limit=3, ascending=True), AttemptFilter())
    assert ([a.id for a in up.data], up.done) == ([a.id for a in log[:3]], False)
    rest = await storage.list_attempts(
        app.id, Cursor(limit=3, iterator=up.iterator, ascending=True), AttemptFilter()
    )
    assert ([a.id for a in rest.data], rest.done) == ([a.id for a in log[3:]], True)


# --- idempotency -------------------------------------------------------------------------------


async def test_idempotent_response_is_stored_once_and_read_back(storage: Storage) -> None:
    """A stored response reads back whole; a second put under the same key keeps the first."""
    first = IdempotentResponse("fp-1", 201, b'{"id":"app_1"}', T0)
    assert await storage.get_idempotent("key-1") is None
    await storage.put_idempotent("key-1", first)
    assert await storage.get_idempotent("key-1") == first
    await storage.put_idempotent("key-1", IdempotentResponse("fp-2", 409, b"{}", T0 + 1))
    assert await storage.get_idempotent("key-1") == first


async def test_idempotent_responses_expire_by_age(storage: Storage) -> None:
    """Expiring removes only the responses created before the cut-off and counts them."""
    for i in range(3):
        await storage.put_idempotent(f"k{i}", IdempotentResponse("fp", 200, b"{}", T0 + 10 * i))
    assert await storage.expire_idempotent(T0 + 15) == 2
    assert await storage.get_idempotent("k0") is None
    assert await storage.get_idempotent("k1") is None
    kept = await storage.get_idempotent("k2")
    assert kept is not None
    assert kept.created_at == T0 + 20
    assert await storage.expire_idempotent(T0 + 15) == 0


# --- deleting an application ---------------------------------------------------------------------


async def test_delete_application_removes_all_of_its_data(storage: Storage) -> None:
    """Deleting an application removes its endpoints, messages, deliveries and attempts."""
    app, other = await add_app(storage), await add_app(storage, at=T0 + 1)
    endpoint, kept_ep = await add_endpoint(storage, app), await add_endpoint(storage, other)
    sent, queued = await publish(storage, app), await publish(storage, app, at=T0 + 1)
    kept_msg = await publish(storage, other, at=T0 + 5)
    [claimed] = await storage.claim("w1", T0, T0 + LEASE, 10)
    await record(storage, claimed, at=T0 + 2)
    await storage.delete_application(app.id)
    with pytest.raises(NotFoundError):
        await storage.get_application(app.id)
    with pytest.raises(NotFoundError):
        await storage.get_endpoint(app.id, endpoint.id)
    for msg in (sent, queued):
        with pytest.raises(NotFoundError):
            await storage.get_message(app.id, msg.id)
        with pytest.raises(NotFoundError):
            await storage.get_delivery(msg.id, endpoint.id)
    assert (await storage.list_attempts(app.id, Cursor(), AttemptFilter())).data == []
    assert (await storage.list_endpoints(app.id, Cursor())).data == []
    assert (await storage.list_messages(app.id, Cursor(), MessageFilter())).data == []
    # The other application is untouched.
    assert await storage.get_endpoint(other.id, kept_ep.id) == kept_ep
    assert await storage.get_message(other.id, kept_msg.id) == kept_msg
    assert keys(await claim_all(storage)) == {(kept_msg.id, kept_ep.id)}


# --- wake-ups ------------------------------------------------------------------------------------


async def _quiet(store: Storage) -> None:
    """Swallow wake-ups already pending, so the next one is news."""
    if isinstance(store, PostgresStorage):
        await store.wait_for_work(5.0)  # its listener wakes once when it connects
    for _ in range(10):
        started = time.monotonic()
        await store.wait_for_work(0.2)
        if time.monotonic() - started >= 0.15:
            return
    pytest.fail("wait_for_work kept waking with no work published")


async def _assert_wakes_on_publish(waiting: Storage, publishing: Storage) -> None:
    app = await add_app(publishing)
    await add_endpoint(publishing, app)
    await _quiet(waiting)
    waiter = asyncio.create_task(waiting.wait_for_work(10.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    published = time.monotonic()
    await publish(publishing, app)
    await asyncio.wait_for(waiter, 15.0)
    assert time.monotonic() - published < 1.0


async def test_wait_for_work_wakes_promptly_after_a_publish(storage: Storage) -> None:
    """A publish wakes a waiter on the same storage well before its timeout."""
    await _assert_wakes_on_publish(storage, storage)


@pytest.mark.postgres
async def test_wait_for_work_wakes_on_a_publish_from_another_instance(
    pg_database_url: str,
) -> None:
    """A publish through one PostgreSQL storage wakes a waiter on another (LISTEN/NOTIFY)."""
    async with opened(pg_database_url) as waiting, opened(pg_database_url) as publishing:
        await _assert_wakes_on_publish(waiting, publishing)


async def test_wait_for_work_wakes_on_a_publish_from_another_sqlite_instance(
    tmp_path: Path,
) -> None:
    """A publish through one SQLite storage wakes a waiter on another on the same file, as
    an API process wakes serve's delivery process (storage/wake.py)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with opened(url) as waiting, opened(url) as publishing:
        await _assert_wakes_on_publish(waiting, publishing)


# --- concurrency ---------------------------------------------------------------------------------


async def _fill_queue(
    storage: Storage, endpoints: int = 4, messages: int = 50
) -> set[tuple[str, str]]:
    """Publish ``messages`` messages to ``endpoints`` endpoints; return every (msg, ep) pair."""
    app = await add_app(storage)
    eps = [await add_endpoint(storage, app, at=T0 + i) for i in range(endpoints)]
    msgs = await asyncio.gather(*(publish(storage, app, at=T0 + i) for i in range(messages)))
    return {(m.id, e.id) for m in msgs for e in eps}


async def _claim_concurrently(
    workers: list[tuple[str, Storage]], limit: int
) -> list[ClaimedDelivery]:
    """Claim in parallel rounds until the queue is empty; check each batch's size."""
    claimed: list[ClaimedDelivery] = []
    for _ in range(100):
        batches = await asyncio.gather(
            *(store.claim(name, LATER, LATER + LEASE, limit) for name, store in workers)
        )
        assert all(len(batch) <= limit for batch in batches)
        if not any(batches):
            return claimed
        claimed.extend(c for batch in batches for c in batch)
    pytest.fail("the queue never drained")


async def test_concurrent_claims_never_hand_out_a_delivery_twice(storage: Storage) -> None:
    """Parallel claims on one storage split 200 deliveries with no overlap and no gap."""
    expected = await _fill_queue(storage)
    workers = [(f"w{i}", storage) for i in range(8)]
    claimed = await _claim_concurrently(workers, limit=9)
    assert len(claimed) == len({c.id for c in claimed}) == 200
    assert keys(claimed) == expected


async def test_claims_from_two_instances_never_hand_out_a_delivery_twice(
    database_url: str,
) -> None:
    """Two storages on one database claiming in parallel split the queue with no overlap."""
    async with opened(database_url) as first, opened(database_url) as second:
        expected = await _fill_queue(first)
        workers = [(f"a{i}", first) for i in range(4)] + [(f"b{i}", second) for i in range(4)]
        claimed = await _claim_concurrently(workers, limit=9)
    assert len(claimed) == len({c.id for c in claimed}) == 200
    assert keys(claimed) == expected


async def test_idempotency_claim_is_taken_once(storage: Storage) -> None:
    """One claim of a key wins; others see it in progress, then the finished answer."""
    assert await storage.claim_idempotent("k", "fp", T0, T0 - 60, T0 - 86400) is None
    held = await storage.claim_idempotent("k", "fp", T0 + 1, T0 - 59, T0 - 86399)
    assert held is not None
    assert held.status_code == 0
    answer = IdempotentResponse("fp", 202, b'{"id":"msg_1"}', T0 + 2)
    await storage.put_idempotent("k", answer)
    assert await storage.claim_idempotent("k", "fp", T0 + 3, T0 - 57, T0 - 86397) == answer


async def test_idempotency_claims_race_to_one_winner(storage: Storage) -> None:
    """Many concurrent claims of one key leave exactly one winner."""
    results = await asyncio.gather(
        *(storage.claim_idempotent("race", "fp", T0, T0 - 60, T0 - 86400) for _ in range(20))
    )
    assert sum(result is None for result in results) == 1


async def test_idempotency_released_or_stale_claim_can_be_taken_again(storage: Storage) -> None:
    """A released claim, or one abandoned past the stale bound, is claimable again."""
    assert await storage.claim_idempotent("k", "fp", T0, T0 - 60, T0 - 86400) is None
    await storage.release_idempotent("k")
    assert await storage.claim_idempotent("k", "fp", T0 + 1, T0 - 59, T0 - 86399) is None
    # Not released: a later claim after the stale bound takes it over.
    assert await storage.claim_idempotent("k", "fp", T0 + 100, T0 + 40, T0 - 86300) is None


async def test_endpoint_messages_show_each_delivery_state(storage: Storage) -> None:
    """An endpoint's messages list newest first with their delivery's Svix status, filterable."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    ok, failed, waiting = [await publish(storage, app, at=T0 + i) for i in range(3)]
    for claimed in await claim_all(storage):
        if claimed.msg_id == ok.id:
            await record(storage, claimed, at=LATER, code=200)
        elif claimed.msg_id == failed.id:
            await record(storage, claimed, at=LATER, code=500)
        else:
            await record(storage, claimed, at=LATER, code=503, retry_at=LATER + 30)
    page = await storage.list_endpoint_messages(app.id, endpoint.id, Cursor())
    assert [(e.message.id, e.status) for e in page.data] == [
        (waiting.id, AttemptStatus.PENDING),
        (failed.id, AttemptStatus.FAIL),
        (ok.id, AttemptStatus.SUCCESS),
    ]
    assert page.data[0].next_attempt_at == LATER + 30
    dead = await storage.list_endpoint_messages(
        app.id, endpoint.id, Cursor(), status=AttemptStatus.FAIL
    )
    assert [e.message.id for e in dead.data] == [failed.id]
    queued = await storage.list_endpoint_messages(
        app.id, endpoint.id, Cursor(), status=AttemptStatus.PENDING
    )
    assert [e.message.id for e in queued.data] == [waiting.id]
    sending = await storage.list_endpoint_messages(
        app.id, endpoint.id, Cursor(), status=AttemptStatus.SENDING
    )
    assert sending.data == []


# --- tokens and the audit trail ----------------------------------------------------------------


async def test_tokens_are_found_by_digest_listed_and_revoked(storage: Storage) -> None:
    from hookline.domain import tokens

    app = await add_app(storage)
    plaintext, admin = tokens.issue("ops", T0, token_id=new_id(ids.TOKEN, T0))
    _, scoped = tokens.issue(
        "portal", T0 + 1, token_id=new_id(ids.TOKEN, T0 + 1), app_id=app.id, read_only=True,
        session_id="s1", expires_at=T0 + 3600,
    )  # fmt: skip
    await storage.create_token(admin)
    await storage.create_token(scoped)
    assert await storage.find_token(tokens.hash_token(plaintext)) == admin
    assert await storage.find_token(tokens.hash_token("hk_not-a-token")) is None
    assert [t.id for t in (await storage.list_tokens(Cursor())).data] == [scoped.id, admin.id]
    assert [t.id for t in (await storage.list_tokens(Cursor(), app.id)).data] == [scoped.id]

    revoked = await storage.revoke_token(admin.id, T0 + 5)
    assert revoked.revoked_at == T0 + 5
    assert (await storage.get_token(admin.id)).problem(T0 + 6) == "the token has been revoked"
    # Revoking again keeps the first time.
    assert (await storage.revoke_token(admin.id, T0 + 9)).revoked_at == T0 + 5
    with pytest.raises(NotFoundError):
        await storage.revoke_token("tok_missing", T0)


async def test_create_token_once_stores_only_the_first(storage: Storage) -> None:
    from hookline.domain import tokens

    _, first = tokens.issue("first", T0, token_id="tok_first_admin")
    _, second = tokens.issue("second", T0, token_id="tok_first_admin")
    assert await storage.create_token_once(first) is True
    assert await storage.create_token_once(second) is False
    assert (await storage.get_token("tok_first_admin")).token_hash == first.token_hash


async def test_expire_app_tokens_by_session(storage: Storage) -> None:
    from hookline.domain import tokens

    app = await add_app(storage)
    other = await add_app(storage, at=T0 + 1)
    made = []
    for n, (owner, session) in enumerate([(app, "s1"), (app, "s2"), (other, "s1")]):
        _, token = tokens.issue(
            "portal", T0, token_id=new_id(ids.TOKEN, T0 + n), app_id=owner.id,
            session_id=session, expires_at=T0 + 9999,
        )  # fmt: skip
        made.append(await storage.create_token(token))
    assert await storage.expire_app_tokens(app.id, T0 + 10, ["s1"]) == 1
    assert (await storage.get_token(made[0].id)).expires_at == T0 + 10
    assert (await storage.get_token(made[1].id)).expires_at == T0 + 9999
    assert await storage.expire_app_tokens(app.id, T0 + 20) == 1  # s1's is already sooner
    assert (await storage.get_token(made[1].id)).expires_at == T0 + 20
    assert (await storage.get_token(made[2].id)).expires_at == T0 + 9999


async def test_deleting_an_application_deletes_its_tokens(storage: Storage) -> None:
    from hookline.domain import tokens

    app = await add_app(storage)
    _, token = tokens.issue("portal", T0, token_id=new_id(ids.TOKEN, T0), app_id=app.id)
    await storage.create_token(token)
    await storage.delete_application(app.id)
    assert await storage.find_token(token.token_hash) is None


async def test_audit_entries_are_written_with_their_change(storage: Storage) -> None:
    from hookline.domain import audit, tokens

    who = tokens.Principal("tok_admin")
    app = make_app()
    await storage.create_application(app, audit.change(who, "application.created", None, app, T0))
    endpoint = make_endpoint(app, at=T0 + 1)
    await storage.create_endpoint(
        endpoint, audit.change(who, "endpoint.created", None, endpoint, T0 + 1)
    )
    rotated = replace(endpoint, secret="whsec_" + "B" * 32, updated_at=T0 + 2)
    await storage.update_endpoint(
        rotated, audit.change(who, "endpoint.secret.rotated", endpoint, rotated, T0 + 2)
    )
    event_type = EventType(name="invoice.paid", created_at=T0 + 3, updated_at=T0 + 3)
    await storage.create_event_type(
        event_type, audit.change(who, "event_type.created", None, event_type, T0 + 3)
    )

    trail = (await storage.list_audit(Cursor(), app.id)).data
    assert [e.action for e in trail] == [
        "endpoint.secret.rotated", "endpoint.created", "application.created",
    ]  # fmt: skip
    assert {e.actor for e in trail} == {"tok_admin"}
    last = trail[0]
    assert last.before is not None
    assert last.after is not None
    assert last.before["secret"] != last.after["secret"]
    assert "whsec_" not in str(last.before) + str(last.after)
    everything = (await storage.list_audit(Cursor())).data
    assert next(e.action for e in everything) == "event_type.created"
    assert everything[0].app_id is None


async def test_resends_and_started_jobs_are_in_the_audit_trail(storage: Storage) -> None:
    """A resend is recorded by the ids found (an eventId named resolves to the message);
    a recover or replay job by its endpoint, window and task id; a refused resend, not."""
    from hookline.domain import audit, jobs, tokens

    who = tokens.Principal("tok_ops")
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    msg = await publish(storage, app, event_id="evt-7")
    await storage.resend(
        app.id, "evt-7", endpoint.id, T0 + 1, audit.resent(who, app.id, "evt-7", T0 + 1)
    )
    with pytest.raises(NotFoundError):
        await storage.resend(
            app.id, "evt-none", endpoint.id, T0 + 2, audit.resent(who, app.id, "evt-none", T0 + 2)
        )
    window = jobs.JobParams(endpoint.id, T0, T0 + 3)
    task = await storage.recover(
        app.id, endpoint.id, T0, T0 + 3, T0 + 3,
        audit.job_started(who, app.id, jobs.RECOVER, window, T0 + 3),
    )  # fmt: skip
    replay = await storage.start_job(
        app.id, jobs.REPLAY, window, T0 + 4,
        audit.job_started(who, app.id, jobs.REPLAY, window, T0 + 4),
    )  # fmt: skip
    trail = (await storage.list_audit(Cursor(), app.id)).data
    assert [(e.action, e.resource_type, e.resource_id) for e in trail] == [
        (jobs.REPLAY, "endpoint", endpoint.id),
        (jobs.RECOVER, "endpoint", endpoint.id),
        ("message.resent", "message", msg.id),
    ]
    assert {e.actor for e in trail} == {"tok_ops"}
    assert trail[2].after == {"endpoint_id": endpoint.id}
    assert trail[1].after is not None
    assert trail[1].after["task_id"] == task.id
    assert trail[1].after["since"] == T0
    assert trail[0].after is not None
    assert trail[0].after["task_id"] == replay.id


async def test_a_failed_change_writes_no_audit_entry(storage: Storage) -> None:
    from hookline.domain import audit, tokens

    who = tokens.Principal("tok_admin")
    taken = await add_app(storage, uid="taken")
    clash = make_app(at=T0 + 1, uid="taken")
    with pytest.raises(ConflictError):
        await storage.create_application(
            clash, audit.change(who, "application.created", None, clash, T0 + 1)
        )
    assert (await storage.list_audit(Cursor())).data == []
    assert taken.uid == "taken"
