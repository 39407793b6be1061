"""Concurrent publishes gathered into batches: one storage call for many, each its own outcome
(on both backends)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from test_storage_contract import T0, add_app, add_endpoint, make_message

from hookline.api.batching import publish_batcher
from hookline.domain.models import Application, Message
from hookline.errors import ConflictError, HooklineError, NotFoundError
from hookline.storage import Storage
from hookline.storage.base import PublishResult


async def app_with_endpoint(storage: Storage) -> Application:
    app = await add_app(storage)
    await add_endpoint(storage, app)
    return app


def message(app: Application, n: int) -> Message:
    return make_message(app, at=T0 + n / 1000, payload=b'{"n":%d}' % n)


def counting_calls(storage: Storage) -> list[int]:
    """Record the size of each ``publish_many`` call the batcher makes (storage stays real)."""
    sizes: list[int] = []
    real = storage.publish_many

    async def publish_many(messages: Sequence[Message]) -> list[PublishResult | HooklineError]:
        sizes.append(len(messages))
        return await real(messages)

    storage.publish_many = publish_many  # type: ignore[method-assign]
    return sizes


async def test_concurrent_publishes_share_storage_calls_and_each_gets_its_own_result(
    storage: Storage,
) -> None:
    """50 publishes at once are written in a few calls; each learns its own message's result."""
    app = await app_with_endpoint(storage)
    sizes = counting_calls(storage)
    batcher = publish_batcher(storage)
    messages = [message(app, n) for n in range(50)]
    results = await asyncio.gather(*(batcher.submit(m) for m in messages))
    assert [r.message for r in results] == messages
    assert all(r.deliveries == 1 for r in results)
    assert sum(sizes) == 50
    assert len(sizes) < 50  # the first goes alone; those that queued behind it, together
    for m in messages:
        assert (await storage.get_message(app.id, m.id)).payload == m.payload


async def test_a_publish_to_a_missing_application_fails_alone(storage: Storage) -> None:
    """Among concurrent publishes, the one naming no application gets 404; the rest are stored."""
    app = await app_with_endpoint(storage)
    batcher = publish_batcher(storage)
    messages = [message(app, n) for n in range(6)]
    messages[3] = replace(messages[3], app_id="app_gone")
    outcomes = await asyncio.gather(*(batcher.submit(m) for m in messages), return_exceptions=True)
    assert isinstance(outcomes[3], NotFoundError)
    stored = [o for o in outcomes if isinstance(o, PublishResult)]
    assert [o.message.id for o in stored] == [m.id for i, m in enumerate(messages) if i != 3]


async def test_a_taken_event_id_in_a_batch_fails_only_that_publish(storage: Storage) -> None:
    """Two publishes with one eventId in one batch: the batch is written one by one, so the
    first is stored and the second alone gets a conflict."""
    app = await app_with_endpoint(storage)
    batcher = publish_batcher(storage)
    messages = [message(app, n) for n in range(5)]
    messages[1] = replace(messages[1], event_id="evt-1")
    messages[3] = replace(messages[3], event_id="evt-1")
    outcomes = await asyncio.gather(*(batcher.submit(m) for m in messages), return_exceptions=True)
    assert isinstance(outcomes[3], ConflictError)
    assert [o.message.id for o in outcomes if isinstance(o, PublishResult)] == [
        messages[i].id for i in (0, 1, 2, 4)
    ]
    assert (await storage.get_message(app.id, "evt-1")).id == messages[1].id
