"""Background tasks: ``/api/v1/background-task`` (recover reports through them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.context import Ctx, Page, respond
from hookline.api.convert import task_out
from hookline.api.schemas import BackgroundTaskOut, ListResponse

router = APIRouter(prefix="/api/v1/background-task", tags=["Background Task"])


@router.get("", response_model=ListResponse[BackgroundTaskOut], summary="List background tasks")
async def list_tasks(
    ctx: Ctx,
    cursor: Page,
    status: Annotated[str | None, Query(pattern="^(running|finished|failed)$")] = None,
    task: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    page = await ctx.storage.list_tasks(cursor, status, task)
    return respond(
        ListResponse[BackgroundTaskOut](
            data=[task_out(t) for t in page.data], iterator=page.iterator,
            prev_iterator=page.prev_iterator, done=page.done,
        )
    )  # fmt: skip


@router.get("/{task_id}", response_model=BackgroundTaskOut, summary="Get a background task")
async def get_task(task_id: str, ctx: Ctx) -> Response:
    return respond(task_out(await ctx.storage.get_task(task_id)))
