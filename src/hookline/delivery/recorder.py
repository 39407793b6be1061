"""The recorder: a worker's outcomes written back in batches, one transaction each.

Outcomes queue up while a write is under way and go together in the next one.
A write that fails keeps its outcomes and tries again (losing them would re-send
deliveries that already succeeded once their leases ran out); at shutdown it
gives up after a few tries, and the leases lapse instead (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from hookline.errors import HooklineError
from hookline.storage.base import Outcome
from hookline.storage.ports import DeliveryQueue

logger = logging.getLogger(__name__)

#: Failed writes at shutdown before the outcomes are left to their leases.
TRIES_AT_SHUTDOWN = 5


class Recorder:
    """Writes outcomes to the queue until stopped with nothing left to write."""

    def __init__(
        self, queue: DeliveryQueue, worker: str, clock: Callable[[], float],
        busy: Callable[[], bool],
    ) -> None:  # fmt: skip
        self.queue = queue
        self.worker = worker
        self.clock = clock
        #: Whether requests are still out (their outcomes are yet to come).
        self.busy = busy
        self.stopping = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._ready = asyncio.Event()

    def add(self, outcomes: Iterable[Outcome]) -> None:
        """Queue outcomes for the next write."""
        self._outcomes.extend(outcomes)
        self._ready.set()

    def stop(self) -> None:
        """Write what is left, then end (once no request is out)."""
        self.stopping.set()
        self._ready.set()

    async def run(self) -> None:
        """Write batches of outcomes until stopped."""
        backoff = 0.1
        failures_while_stopping = 0
        while True:
            await self._ready.wait()
            self._ready.clear()
            if not self._outcomes:
                if self.stopping.is_set() and not self.busy():
                    return
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                await self.queue.record(self.worker, batch, self.clock())
                backoff = 0.1
            except HooklineError as error:
                logger.warning("recording outcomes failed; retrying", extra={"error": error.detail})
                if self.stopping.is_set():
                    failures_while_stopping += 1
                    if failures_while_stopping > TRIES_AT_SHUTDOWN:
                        logger.error(
                            "giving up recording outcomes at shutdown", extra={"count": len(batch)}
                        )
                        return
                self._outcomes[:0] = batch
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._ready.set()
            if self.stopping.is_set() and not self.busy() and not self._outcomes:
                return
