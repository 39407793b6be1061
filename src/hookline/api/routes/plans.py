"""Plans (``/api/v1/plan``), an application's plan and its usage (docs/plans.md)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from hookline.api.access import ADMIN_READ, ADMIN_WRITE, APP_READ, requires
from hookline.api.context import App, Ctx, respond
from hookline.api.schemas import utc
from hookline.api.schemas.plans import (
    ApplicationPlanIn,
    ApplicationPlanOut,
    PlanIn,
    PlanListOut,
    PlanOut,
    UsageOut,
)
from hookline.domain import plans
from hookline.domain.plans import Plan
from hookline.usecases.event_types import check_name

router = APIRouter(tags=["Plan"])


def _plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        name=plan.name, limits=plan.limits, created_at=utc(plan.created_at),
        updated_at=utc(plan.updated_at),
    )  # fmt: skip


@router.get(
    "/api/v1/plan", response_model=PlanListOut, summary="List plans",
    dependencies=[requires(ADMIN_READ)],
)  # fmt: skip
async def list_plans(ctx: Ctx) -> Response:
    return respond(PlanListOut(data=[_plan_out(p) for p in await ctx.storage.list_plans()]))


@router.put(
    "/api/v1/plan/{plan_name}", response_model=PlanOut, summary="Create or replace a plan",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def put_plan(plan_name: str, body: PlanIn, ctx: Ctx) -> Response:
    """A change applies to the publishes that follow, in every process."""
    check_name(plan_name, "plan_name")
    stored = await ctx.storage.put_plan(Plan(plan_name, body.limits.stored()), ctx.clock())
    return respond(_plan_out(stored))


@router.get(
    "/api/v1/plan/{plan_name}", response_model=PlanOut, summary="Get a plan",
    dependencies=[requires(ADMIN_READ)],
)  # fmt: skip
async def get_plan(plan_name: str, ctx: Ctx) -> Response:
    return respond(_plan_out(await ctx.storage.get_plan(plan_name)))


@router.delete(
    "/api/v1/plan/{plan_name}", status_code=204, summary="Delete a plan no application takes",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def delete_plan(plan_name: str, ctx: Ctx) -> Response:
    await ctx.storage.delete_plan(plan_name)
    return Response(status_code=204)


@router.put(
    "/api/v1/app/{app_id}/plan", response_model=ApplicationPlanOut,
    summary="Give an application a plan and overrides",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def set_plan(app: App, body: ApplicationPlanIn, ctx: Ctx) -> Response:
    """``overrides`` replace the plan's values for this application alone."""
    overrides = None if body.overrides is None else body.overrides.stored() or None
    await ctx.storage.set_application_plan(app.id, body.plan, overrides, ctx.clock())
    return await _usage(app.id, ctx)


@router.get(
    "/api/v1/app/{app_id}/usage", response_model=ApplicationPlanOut,
    summary="An application's plan, limits and messages this day and month",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def usage(app: App, ctx: Ctx) -> Response:
    return await _usage(app.id, ctx)


async def _usage(app_id: str, ctx: Ctx) -> Response:
    plan, overrides, figures = await ctx.storage.application_usage(app_id, ctx.clock())
    limits = plans.effective(
        (await ctx.storage.get_plan(plan)).limits if plan is not None else None, overrides
    )
    return respond(
        ApplicationPlanOut(
            plan=plan, overrides=overrides, limits=limits,
            usage=[
                UsageOut(
                    quota=f.quota, period=f.period, used=f.used, limit=f.limit,
                    resets_at=utc(f.resets_at),
                )
                for f in figures
            ],
        )
    )  # fmt: skip
