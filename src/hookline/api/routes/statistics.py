"""Usage figures over every application: ``/api/v1/stats/usage`` (background tasks)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from hookline.api.access import ADMIN_WRITE, requires
from hookline.api.context import Ctx, Who, respond
from hookline.api.convert import task_out
from hookline.api.schemas import BackgroundTaskOut
from hookline.api.schemas.operations import AppUsageStatsIn, AppUsageStatsOut
from hookline.usecases import log_operations

router = APIRouter(prefix="/api/v1/stats/usage", tags=["Statistics"])


@router.post(
    "/app", response_model=AppUsageStatsOut, status_code=202,
    summary="Count each application's message destinations in a window",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def aggregate_app_stats(body: AppUsageStatsIn, ctx: Ctx, who: Who) -> Response:
    """An ``application.stats`` task; once finished, its data's ``appStats`` lists
    ``appId``, ``appUid`` and ``messageDestinations`` (deliveries made of the messages
    of [since, until)) for every application, or those of ``appIds``."""
    task, unresolved = await log_operations.app_usage(
        ctx.storage, who, body.since.timestamp(), body.until.timestamp(), body.app_ids,
        ctx.clock(),
    )  # fmt: skip
    out = AppUsageStatsOut(**task_out(task).model_dump(), unresolved_app_ids=unresolved)
    return respond(out, 202)


@router.put(
    "/event-types", response_model=BackgroundTaskOut, status_code=202,
    summary="List the event types each application's endpoints subscribe to",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def aggregate_event_types(ctx: Ctx, who: Who) -> Response:
    """An ``event-type.aggregate`` task; once finished, its data's ``event_types`` lists,
    per application with endpoints, the types subscribed to and whether one endpoint
    takes every type."""
    task = await log_operations.aggregate_event_types(ctx.storage, who, ctx.clock())
    return respond(task_out(task), 202)
