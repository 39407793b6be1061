"""Writes from concurrent requests, gathered into one storage call per batch.

While one batch is being written, the requests that arrive queue up and go in
the next: under load, batches grow by themselves (as a group commit does);
alone, an item is written at once. Each request still waits for its own item to
be committed before it is answered. The publish API and the inbound gateway both
write this way: per item, a storage call costs a trip to the writer thread, a
savepoint and a statement or more, each taking the GIL from the event loop; per
batch, those costs are shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from hookline.domain.models import Message
from hookline.storage.base import PublishResult, ReceiveResult, Storage

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
#: A received event as ``Storage.receive`` takes it: the message, its dedup key, the window.
Received = tuple[Message, str | None, float]


class WriteBatcher(Generic[ItemT, ResultT]):
    """Calls ``many(items)`` for the items of concurrent ``submit`` calls.

    ``many`` returns one outcome per item, in order: a result, or an exception
    that only its own item raises. If ``many`` itself raises, the batch is written
    again item by item through ``one``, so that one bad item (another tenant's,
    perhaps) fails alone.
    """

    def __init__(
        self,
        many: Callable[[list[ItemT]], Awaitable[Sequence[ResultT | Exception]]],
        one: Callable[[ItemT], Awaitable[ResultT]],
        max_batch: int = 256,
    ) -> None:
        self.many = many
        self.one = one
        self.max_batch = max_batch
        self._waiting: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._writing = False
        # The loop keeps only a weak reference to a task: this one keeps the writer alive.
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        """Write ``item`` with its neighbours; its result, or its error raised."""
        done: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if not self._writing:
            self._writing = True
            self._writer = asyncio.get_running_loop().create_task(self._write_batches())
        return await done

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    outcomes = await self.many([item for item, _ in batch])
                except Exception:
                    await self._one_by_one(batch)
                    continue
                except BaseException:  # cancelled (shutting down): nobody will answer these
                    for _, done in batch:
                        done.cancel()
                    raise
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    _settle(done, outcome)
        finally:
            self._writing = False

    async def _one_by_one(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        for item, done in batch:
            try:
                result = await self.one(item)
            except Exception as error:
                _settle(done, error)
            else:
                _settle(done, result)


def _settle(done: asyncio.Future[ResultT], outcome: ResultT | Exception) -> None:
    if done.done():  # its request went away (the client hung up)
        return
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


def publish_batcher(storage: Storage) -> WriteBatcher[Message, PublishResult]:
    """Publishes, written with ``Storage.publish_many``."""
    return WriteBatcher(storage.publish_many, storage.publish)


def receive_batcher(storage: Storage) -> WriteBatcher[Received, ReceiveResult]:
    """Received events, written with ``Storage.receive_many``."""
    return WriteBatcher(storage.receive_many, lambda item: storage.receive(*item))
