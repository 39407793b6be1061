"""The SQLite writer thread: a worker's claims are answered ahead of writes queued with them,
and in the order they were queued."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
from test_storage_contract import LATER, add_app, add_endpoint, claim_all, make_attempt, publish

from hookline.domain.models import DeliveryStatus
from hookline.storage import storage_from_url
from hookline.storage.base import Outcome
from hookline.storage.sqlite import SqliteStorage

from support.keyring import TEST_SECRET_BOX


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    """An open SQLite storage (this module is about its writer thread only)."""
    store = storage_from_url(f"sqlite:///{tmp_path / 'hookline.db'}", secret_box=TEST_SECRET_BOX)
    assert isinstance(store, SqliteStorage)
    await store.open()
    yield store
    await store.close()


async def answered_in_order(
    storage: SqliteStorage, writes: dict[str, Coroutine[Any, Any, Any]]
) -> tuple[list[str], dict[str, Any]]:
    """Queue ``writes``, in order, while the writer is busy, so that they go in one group;
    the names in the order their answers came, and the answers."""
    gate = threading.Event()
    busy = asyncio.ensure_future(storage._write(lambda conn: gate.wait(5)))
    await asyncio.sleep(0.05)  # the writer is inside the busy job
    answered: list[str] = []
    futures = {name: asyncio.ensure_future(write) for name, write in writes.items()}
    for name, future in futures.items():
        future.add_done_callback(lambda _, name=name: answered.append(name))
    await asyncio.sleep(0.05)  # every write is queued behind it
    gate.set()
    await asyncio.gather(busy, *futures.values())
    return answered, {name: future.result() for name, future in futures.items()}


async def test_a_claim_goes_ahead_of_the_outcome_writes_queued_beside_it(
    storage: SqliteStorage,
) -> None:
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    for _ in range(3):
        await publish(storage, app)
    [sent] = await claim_all(storage, limit=1)
    outcome = Outcome(
        delivery_id=sent.id, endpoint_id=endpoint.id, status=DeliveryStatus.SUCCESS,
        next_attempt_at=None, attempt=make_attempt(sent, at=LATER, code=200),
    )  # fmt: skip

    order, answers = await answered_in_order(
        storage,
        {"record": storage.record("w1", [outcome], LATER), "claim": claim_all(storage)},
    )

    assert order == ["claim", "record"]
    assert len(answers["claim"]) == 2
    stats = await storage.endpoint_stats(app.id, endpoint.id, 0, LATER + 60)
    assert (stats.success, stats.sending) == (1, 2)


async def test_a_claim_does_not_overtake_a_batch_fill_queued_before_it(
    storage: SqliteStorage,
) -> None:
    """Else the claim could take the rest of a batch as heads of batches of their own."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    for _ in range(4):
        await publish(storage, app)
    [head] = await claim_all(storage, limit=1)

    order, answers = await answered_in_order(
        storage,
        {
            "fill": storage.claim_batch("w1", endpoint.id, 0.0, [head.id], 2, LATER + 30),
            "claim": claim_all(storage),
        },
    )

    assert order == ["fill", "claim"]
    assert len(answers["fill"]) == 2
    assert len(answers["claim"]) == 1
