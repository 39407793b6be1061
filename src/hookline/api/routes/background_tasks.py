"""Background tasks: ``/api/v1/background-task`` (recover reports through them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.access import TOKEN_READ, TOKEN_WRITE, requires
from hookline.api.context import Ctx, Page, Who, listed, respond
from hookline.api.convert import task_out
from hookline.api.schemas import BackgroundTaskOut, ListResponse
from hookline.usecases import tasks

router = APIRouter(prefix="/api/v1/background-task", tags=["Background Task"])


@router.get(
    "",
    response_model=ListResponse[BackgroundTaskOut],
    summary="List background tasks",
    dependencies=[requires(TOKEN_READ)],
)
async def list_tasks(
    ctx: Ctx,
    cursor: Page,
    who: Who,
    status: Annotated[str | None, Query(pattern="^(running|finished|failed)$")] = None,
    task: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    # An application's token lists only its own application's tasks.
    page = await ctx.storage.list_tasks(cursor, status, task, who.app_id)
    return listed(ListResponse[BackgroundTaskOut], page, [task_out(t) for t in page.data])


@router.get(
    "/{task_id}",
    response_model=BackgroundTaskOut,
    summary="Get a background task",
    dependencies=[requires(TOKEN_READ)],
)
async def get_task(task_id: str, ctx: Ctx, who: Who) -> Response:
    return respond(task_out(await tasks.visible_task(ctx.storage, who, task_id)))


@router.post(
    "/{task_id}/cancel",
    response_model=BackgroundTaskOut,
    summary="Cancel a running task",
    dependencies=[requires(TOKEN_WRITE)],
)
async def cancel_task(task_id: str, ctx: Ctx, who: Who) -> Response:
    """The job stops after its current batch: ``failed``, with ``cancelled`` and the count
    so far in its data. A task that already ended is answered as it is."""
    return respond(task_out(await tasks.cancel(ctx.storage, who, task_id, ctx.clock())))
