"""Applications: ``/api/v1/app``."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.access import ADMIN_WRITE, APP_READ, TOKEN_READ, requires
from hookline.api.context import App, Ctx, Page, Who, listed, respond
from hookline.api.convert import application_out
from hookline.api.schemas import (
    CREATED_BY_PUT,
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    ListResponse,
)
from hookline.domain.models import Page as RecordPage
from hookline.usecases import applications
from hookline.usecases.applications import ApplicationDraft

router = APIRouter(prefix="/api/v1/app", tags=["Application"])


def application_draft(body: ApplicationIn) -> ApplicationDraft:
    """The use case's draft of a create body."""
    return ApplicationDraft(
        name=body.name, uid=body.uid, rate_limit=body.throttle_rate, metadata=body.metadata
    )


@router.get(
    "",
    response_model=ListResponse[ApplicationOut],
    summary="List applications",
    dependencies=[requires(TOKEN_READ)],
)
async def list_applications(ctx: Ctx, cursor: Page, who: Who) -> Response:
    if who.app_id is not None:
        # An application's token sees its own application and nothing else.
        own = await ctx.storage.get_application(who.app_id)
        page = RecordPage(data=[own], iterator=own.id, prev_iterator=own.id, done=True)
    else:
        page = await ctx.storage.list_applications(cursor)
    return listed(ListResponse[ApplicationOut], page, [application_out(a) for a in page.data])


@router.post(
    "", response_model=ApplicationOut, status_code=201, summary="Create an application",
    responses={200: {"description": "existing application (get_if_exists)"}},
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def create_application(
    body: ApplicationIn, ctx: Ctx, who: Who, get_if_exists: Annotated[bool, Query()] = False
) -> Response:
    draft = application_draft(body)
    if get_if_exists:
        app, created = await applications.get_or_create(ctx.storage, who, draft, ctx.clock())
        return respond(application_out(app), 201 if created else 200)
    app = await applications.create_application(ctx.storage, who, draft, ctx.clock())
    return respond(application_out(app), 201)


@router.get(
    "/{app_id}",
    response_model=ApplicationOut,
    summary="Get an application",
    dependencies=[requires(APP_READ)],
)
async def get_application(app: App) -> Response:
    return respond(application_out(app))


@router.put(
    "/{app_id}", response_model=ApplicationOut, responses=CREATED_BY_PUT,
    summary="Update or create an application",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def update_application(app_id: str, body: ApplicationIn, ctx: Ctx, who: Who) -> Response:
    app, created = await applications.put_application(
        ctx.storage, who, app_id, application_draft(body), ctx.clock()
    )
    return respond(application_out(app), 201 if created else 200)


@router.patch(
    "/{app_id}",
    response_model=ApplicationOut,
    summary="Patch an application",
    dependencies=[requires(ADMIN_WRITE)],
)
async def patch_application(app: App, body: ApplicationPatch, ctx: Ctx, who: Who) -> Response:
    given = body.model_fields_set
    updated = replace(
        app,
        name=body.name if "name" in given and body.name is not None else app.name,
        uid=body.uid if "uid" in given else app.uid,
        rate_limit=body.throttle_rate if "throttle_rate" in given else app.rate_limit,
        metadata=(body.metadata or {}) if "metadata" in given else app.metadata,
    )
    stored = await applications.update_application(ctx.storage, who, app, updated, ctx.clock())
    return respond(application_out(stored))


@router.delete(
    "/{app_id}",
    status_code=204,
    summary="Delete an application and all its data",
    dependencies=[requires(ADMIN_WRITE)],
)
async def delete_application(app: App, ctx: Ctx, who: Who) -> Response:
    await applications.delete_application(ctx.storage, who, app, ctx.clock())
    ctx.tokens.forget(lambda token: token.app_id == app.id)
    ctx.sources.forget_app(app.id)
    return Response(status_code=204)
