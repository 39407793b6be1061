"""The work a worker process does beside delivering: background jobs and retention.

``JobRunner`` takes up background jobs (recover, replay, bulk replay) one at a
time under a lease, a batch per transaction, renewing the lease as it goes: a
job whose runner died is taken up by another after the lease, where it stopped.

``RetentionCleaner`` removes expired payloads and old attempt records, a small
batch per transaction with a pause between, so delivery never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from hookline.domain import jobs
from hookline.errors import HooklineError
from hookline.storage.base import Jobs, Retention

logger = logging.getLogger(__name__)

#: How long a runner holds a job between two batches before another may take it.
JOB_LEASE = 60.0

#: The longest pause after failures in a row: a bug in one job must neither spin
#: the CPU nor take the process (and every delivery in it) down.
MOST_BACKOFF = 60.0


def _backoff(failures: int, base: float) -> float:
    """The pause after ``failures`` failed rounds in a row: doubling, capped."""
    return min(MOST_BACKOFF, base * float(2 ** min(failures, 16)))


class JobRunner:
    """Runs background jobs until stopped."""

    def __init__(
        self, storage: Jobs, name: str, poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.storage = storage
        self.name = name
        self.poll_interval = poll_interval
        self.clock = clock
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the current batch, then stop."""
        self._stopping.set()

    async def run(self) -> None:
        """Take up jobs one at a time; nap while there are none."""
        failures = 0
        while not self._stopping.is_set():
            pause = self.poll_interval
            try:
                busy = await self.run_one()
                failures = 0
            except HooklineError as error:
                logger.warning("background job failed; retrying", extra={"error": error.detail})
                busy, failures = False, failures + 1
                pause = _backoff(failures, self.poll_interval)
            except Exception:  # a bug in one job: log it, keep delivering, retry later
                logger.exception("background job crashed; retrying after a pause")
                busy, failures = False, failures + 1
                pause = _backoff(failures, self.poll_interval)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)

    async def run_one(self) -> bool:
        """Run one job to its end (or until stopped); False if there was none."""
        now = self.clock()
        task_id = await self.storage.claim_job(self.name, now, now + JOB_LEASE)
        if task_id is None:
            return False
        logger.info("background job started", extra={"task_id": task_id})
        while not self._stopping.is_set():
            now = self.clock()
            task = await self.storage.run_job_batch(task_id, self.name, now, now + JOB_LEASE)
            if task.status != jobs.RUNNING:
                logger.info(
                    "background job ended",
                    extra={"task_id": task_id, "status": task.status, "data": task.data},
                )
                break
            await asyncio.sleep(0)  # let deliveries run between batches
        return True


class RetentionCleaner:
    """Removes expired payloads and old attempts, in small batches, forever."""

    def __init__(
        self, storage: Retention, attempt_retention: float, interval: float, batch: int,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.storage = storage
        self.attempt_retention = attempt_retention
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stopping.set()

    async def run(self) -> None:
        """A round every ``interval`` seconds."""
        while not self._stopping.is_set():
            try:
                await self.clean()
            except HooklineError as error:
                logger.warning("retention round failed", extra={"error": error.detail})
            except Exception:  # never take delivery down over a cleaning round
                logger.exception("retention round crashed; next round as usual")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def clean(self) -> tuple[int, int]:
        """One round: every expired payload and old attempt, a batch per transaction."""
        payloads = attempts = 0
        while not self._stopping.is_set():
            removed = await self.storage.expunge_expired(self.clock(), self.batch)
            payloads += removed
            if removed < self.batch:
                break
        before = self.clock() - self.attempt_retention
        while not self._stopping.is_set():
            removed = await self.storage.delete_old_attempts(before, self.batch)
            attempts += removed
            if removed < self.batch:
                break
        if payloads or attempts:
            logger.info(
                "retention round",
                extra={"payloads_removed": payloads, "attempts_removed": attempts},
            )
        return payloads, attempts
