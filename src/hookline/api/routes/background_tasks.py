"""Background tasks: ``/api/v1/background-task`` (recover reports through them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.context import Ctx, Page, Who, listed, respond
from hookline.api.convert import task_out
from hookline.api.schemas import BackgroundTaskOut, ListResponse
from hookline.errors import NotFoundError

router = APIRouter(prefix="/api/v1/background-task", tags=["Background Task"])


@router.get("", response_model=ListResponse[BackgroundTaskOut], summary="List background tasks")
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


@router.get("/{task_id}", response_model=BackgroundTaskOut, summary="Get a background task")
async def get_task(task_id: str, ctx: Ctx, who: Who) -> Response:
    task = await ctx.storage.get_task(task_id)
    if not who.may_see(task.app_id):
        raise NotFoundError(f"background task {task_id!r} not found")
    return respond(task_out(task))
