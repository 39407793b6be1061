"""Publishing keeps each application's routing in memory: it must never route stale.

The routing (endpoints, their event types, channels, filters, disabled, paused and
circuit states) is read once per application and trusted while the application's
``routes_version`` is unchanged; triggers give it a new value on every change that
can alter routing (migration 0006). Here one storage publishes (and so caches) while
a second storage on the same database, standing in for another process, makes every
kind of change; each publish after a change must route by the new state. On both
backends (the ``database_url`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from test_controls_storage import add_endpoint, claim, outcome

from hookline.domain import ids
from hookline.domain.controls import BreakerConfig, Controls
from hookline.domain.models import Application, DeliveryStatus, Message
from hookline.errors import NotFoundError
from hookline.storage import Storage, storage_from_url

import pg
from support.database import query
from support.keyring import TEST_SECRET_BOX

T0 = 1_700_000_000.0


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[Storage]:
    """A second storage on the test's database: another process, as far as caches go."""
    store = storage_from_url(database_url, secret_box=TEST_SECRET_BOX)
    await store.open()
    yield store
    await pg.close_promptly(store)


class Publisher:
    """Publishes through one storage, a second apart each, and says what each fanned out to."""

    def __init__(self, storage: Storage, app_key: str, database_url: str) -> None:
        self.storage = storage
        self.app_key = app_key
        self.url = database_url
        self.at = T0

    async def send(self, event_type: str = "invoice.paid") -> dict[str, DeliveryStatus]:
        self.at += 1
        message = Message(
            id=ids.new_id(ids.MESSAGE, self.at), app_id=self.app_key, event_type=event_type,
            payload=b'{"n": 1}', created_at=self.at,
        )  # fmt: skip
        result = await self.storage.publish(message)
        rows = query(
            self.url,
            "SELECT endpoint_id, status FROM deliveries WHERE msg_id = ?",
            (result.message.id,),
        )
        assert result.deliveries == len(rows)
        return {endpoint_id: DeliveryStatus(status) for endpoint_id, status in rows}


async def test_every_routing_change_made_elsewhere_reaches_the_next_publish(
    storage: Storage, other: Storage, database_url: str
) -> None:
    """Changes made through another storage (another process) route the very next publish."""
    app = await other.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), uid="acme", name="Acme", created_at=T0)
    )
    # By uid: the application is resolved in the publish's own transaction.
    publisher = Publisher(storage, "acme", database_url)
    assert await publisher.send() == {}
    first = await add_endpoint(other, app)
    assert await publisher.send() == {first.id: DeliveryStatus.PENDING}
    second = await add_endpoint(other, app, filter_types=("invoice.paid",))
    both = {first.id: DeliveryStatus.PENDING, second.id: DeliveryStatus.PENDING}
    assert await publisher.send() == both
    assert await publisher.send() == both  # unchanged: served from memory, still right

    await other.update_endpoint(replace(second, filter_types=("invoice.voided",)))
    assert await publisher.send() == {first.id: DeliveryStatus.PENDING}
    assert await publisher.send("invoice.voided") == both

    await other.update_endpoint(replace(first, channels=("eu",)))
    assert await publisher.send() == {}

    await other.update_endpoint(replace(first, channels=None, disabled=True))
    assert await publisher.send() == {first.id: DeliveryStatus.HELD}
    first = await other.update_endpoint(replace(first, channels=None, disabled=False))
    assert await publisher.send() == {first.id: DeliveryStatus.PENDING}

    await other.set_paused(app.id, first.id, True, T0 + 100)
    assert await publisher.send() == {first.id: DeliveryStatus.WAITING}
    await other.set_paused(app.id, first.id, False, T0 + 101)
    assert await publisher.send() == {first.id: DeliveryStatus.PENDING}

    await other.delete_endpoint(app.id, second.id)
    assert await publisher.send("invoice.voided") == {first.id: DeliveryStatus.PENDING}


async def test_a_circuit_opened_elsewhere_holds_the_next_publish(
    storage: Storage, other: Storage, database_url: str
) -> None:
    """A circuit opened by a worker's record (another process) parks the next publish."""
    app = await other.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", created_at=T0)
    )
    config = BreakerConfig(failure_rate=0.5, minimum_attempts=2, window=60, cooldown=10)
    endpoint = await add_endpoint(other, app, controls=Controls(breaker=config))
    publisher = Publisher(storage, app.id, database_url)
    assert await publisher.send() == {endpoint.id: DeliveryStatus.PENDING}
    assert await publisher.send() == {endpoint.id: DeliveryStatus.PENDING}
    failing = await claim(other, T0 + 10, limit=2)
    await other.record("w1", [outcome(c, T0 + 11, 500, retry_at=T0 + 12) for c in failing], T0 + 11)
    assert await publisher.send() == {endpoint.id: DeliveryStatus.WAITING}
    assert await other.start_probes(T0 + 21) == 1
    [probe] = await claim(other, T0 + 21)
    await other.record("w1", [outcome(probe, T0 + 22, 200)], T0 + 22)
    assert await publisher.send() == {endpoint.id: DeliveryStatus.PENDING}


async def test_publishing_to_an_unknown_application_stores_nothing(
    storage: Storage, database_url: str
) -> None:
    """No such application (by id or uid): NotFoundError, and no message row."""
    for key in ("no-such-uid", ids.new_id(ids.APPLICATION, T0)):
        message = Message(
            id=ids.new_id(ids.MESSAGE, T0), app_id=key, event_type="e", payload=b"{}",
            created_at=T0,
        )  # fmt: skip
        with pytest.raises(NotFoundError, match="not found"):
            await storage.publish(message)
    assert query(database_url, "SELECT COUNT(*) FROM messages") == [(0,)]
