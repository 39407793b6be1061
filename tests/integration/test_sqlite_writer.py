"""The SQLite writer thread: a worker's claims are answered ahead of writes queued with them,
and in the order they were queued."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from test_storage_contract import LATER, add_app, add_endpoint, claim_all, make_attempt, publish

from hookline.domain.models import DeliveryStatus
from hookline.storage import storage_from_url
from hookline.storage.base import Outcome
from hookline.storage.sqlite import SqliteStorage

from support.keyring import TEST_SECRET_BOX


async def opened(tmp_path: Path) -> SqliteStorage:
    storage = storage_from_url(f"sqlite:///{tmp_path / 'hookline.db'}", secret_box=TEST_SECRET_BOX)
    assert isinstance(storage, SqliteStorage)
    await storage.open()
    return storage


def hold_the_writer(storage: SqliteStorage) -> tuple[threading.Event, asyncio.Future[object]]:
    """A job that keeps the writer busy until the event is set, so that what is written
    meanwhile queues up and goes in one group."""
    gate = threading.Event()
    return gate, asyncio.ensure_future(storage._write(lambda conn: gate.wait(5)))


async def test_a_claim_goes_ahead_of_the_outcome_writes_queued_beside_it(tmp_path: Path) -> None:
    storage = await opened(tmp_path)
    try:
        app = await add_app(storage)
        endpoint = await add_endpoint(storage, app)
        for _ in range(3):
            await publish(storage, app)
        [sent] = await claim_all(storage, limit=1)

        gate, busy = hold_the_writer(storage)
        await asyncio.sleep(0.05)  # the writer is in the job: an outcome, then a claim, queue
        answered: list[str] = []
        outcome = Outcome(
            delivery_id=sent.id, endpoint_id=endpoint.id, status=DeliveryStatus.SUCCESS,
            next_attempt_at=None, attempt=make_attempt(sent, at=LATER, code=200),
        )  # fmt: skip
        recorded = asyncio.ensure_future(storage.record("w1", [outcome], LATER))
        recorded.add_done_callback(lambda _: answered.append("record"))
        claimed = asyncio.ensure_future(claim_all(storage))
        claimed.add_done_callback(lambda _: answered.append("claim"))
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(busy, recorded, claimed)

        assert answered == ["claim", "record"]
        assert len(claimed.result()) == 2
        stats = await storage.endpoint_stats(app.id, endpoint.id, 0, LATER + 60)
        assert (stats.success, stats.sending) == (1, 2)
    finally:
        await storage.close()


async def test_a_claim_does_not_overtake_a_batch_fill_queued_before_it(tmp_path: Path) -> None:
    """Else the claim could take the rest of a batch as heads of batches of their own."""
    storage = await opened(tmp_path)
    try:
        app = await add_app(storage)
        endpoint = await add_endpoint(storage, app)
        for _ in range(4):
            await publish(storage, app)
        [head] = await claim_all(storage, limit=1)

        gate, busy = hold_the_writer(storage)
        await asyncio.sleep(0.05)
        answered: list[str] = []
        filled = asyncio.ensure_future(
            storage.claim_batch("w1", endpoint.id, 0.0, [head.id], 2, LATER + 30)
        )
        filled.add_done_callback(lambda _: answered.append("fill"))
        claimed = asyncio.ensure_future(claim_all(storage))
        claimed.add_done_callback(lambda _: answered.append("claim"))
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(busy, filled, claimed)

        assert answered == ["fill", "claim"]
        assert len(filled.result()) == 2
        assert len(claimed.result()) == 1
    finally:
        await storage.close()
