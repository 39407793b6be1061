"""A bug in a background job or a retention round must not stop the process.

The storages here are the real ones (the ``storage`` fixture) with one operation made to raise,
as a bug in a job's batch would: the runner logs it, pauses, and goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hookline.delivery.maintenance import JobRunner, RetentionCleaner, _backoff
from hookline.storage.base import Storage


class _FailsFirst:
    """Raises a plain bug (not a HooklineError) on the first ``times`` calls of ``name``."""

    def __init__(self, storage: Storage, name: str, times: int) -> None:
        self._storage, self._name, self._left, self.calls = storage, name, times, 0

    def __getattr__(self, attr: str) -> Any:
        real = getattr(self._storage, attr)
        if attr != self._name:
            return real

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self._left > 0:
                self._left -= 1
                raise KeyError("a bug in the job")
            return await real(*args, **kwargs)

        return call


async def test_job_runner_survives_a_crashing_job(storage: Storage, caplog: Any) -> None:
    flaky = _FailsFirst(storage, "claim_job", times=2)
    runner = JobRunner(flaky, "w1", poll_interval=0.01)
    task = asyncio.create_task(runner.run())
    with caplog.at_level(logging.ERROR, logger="hookline.delivery.maintenance"):
        for _ in range(200):
            if flaky.calls >= 3:  # two crashes, then a normal claim
                break
            await asyncio.sleep(0.01)
    assert flaky.calls >= 3
    assert not task.done(), "the runner stopped on a bug"
    assert sum("background job crashed" in r.getMessage() for r in caplog.records) == 2
    runner.stop()
    await asyncio.wait_for(task, 5)


async def test_retention_cleaner_survives_a_crashing_round(storage: Storage) -> None:
    flaky = _FailsFirst(storage, "expunge_expired", times=1)
    cleaner = RetentionCleaner(flaky, 3600.0, interval=0.01, batch=10)
    task = asyncio.create_task(cleaner.run())
    for _ in range(200):
        if flaky.calls >= 2:
            break
        await asyncio.sleep(0.01)
    assert flaky.calls >= 2
    assert not task.done()
    cleaner.stop()
    await asyncio.wait_for(task, 5)


def test_backoff_doubles_and_is_capped() -> None:
    assert _backoff(1, 1.0) == 2.0
    assert _backoff(2, 1.0) == 4.0
    assert _backoff(50, 1.0) == 60.0
