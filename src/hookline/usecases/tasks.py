"""Background tasks as a caller may see them: an application's token sees only its own."""

from __future__ import annotations

from hookline.domain.models import BackgroundTask
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError
from hookline.storage.base import Storage


async def visible_task(storage: Storage, who: Principal, task_id: str) -> BackgroundTask:
    """The task ``task_id``; another application's reads as absent (404)."""
    task = await storage.get_task(task_id)
    if not who.may_see(task.app_id):
        raise NotFoundError(f"background task {task_id!r} not found")
    return task


async def cancel(storage: Storage, who: Principal, task_id: str, now: float) -> BackgroundTask:
    """Stop the job after its current batch (``failed``, with ``cancelled`` and the count so
    far in its data); a task that already ended is returned as it is."""
    task = await visible_task(storage, who, task_id)
    return await storage.cancel_job(task.id, now)
