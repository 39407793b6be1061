"""Applications: ``/api/v1/app``."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.context import App, Ctx, Page, Who, change, listed, respond
from hookline.api.convert import application_out
from hookline.api.schemas import (
    CREATED_BY_PUT,
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    ListResponse,
    check_name,
)
from hookline.domain import ids
from hookline.domain.models import Application
from hookline.domain.models import Page as RecordPage
from hookline.errors import NotFoundError

router = APIRouter(prefix="/api/v1/app", tags=["Application"])


def new_application(body: ApplicationIn, now: float, uid: str | None = None) -> Application:
    """An application record from a create body."""
    return Application(
        id=ids.new_id(ids.APPLICATION, now), name=body.name, uid=body.uid or uid,
        rate_limit=body.throttle_rate, metadata=body.metadata, created_at=now, updated_at=now,
    )  # fmt: skip


@router.get("", response_model=ListResponse[ApplicationOut], summary="List applications")
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
)  # fmt: skip
async def create_application(
    body: ApplicationIn, ctx: Ctx, who: Who, get_if_exists: Annotated[bool, Query()] = False
) -> Response:
    if get_if_exists and body.uid:
        try:
            return respond(application_out(await ctx.storage.get_application(body.uid)))
        except NotFoundError:
            pass
    app = new_application(body, ctx.clock())
    await ctx.storage.create_application(app, change(who, "application.created", None, app, ctx))
    return respond(application_out(app), 201)


@router.get("/{app_id}", response_model=ApplicationOut, summary="Get an application")
async def get_application(app: App) -> Response:
    return respond(application_out(app))


@router.put(
    "/{app_id}", response_model=ApplicationOut, responses=CREATED_BY_PUT,
    summary="Update or create an application",
)  # fmt: skip
async def update_application(app_id: str, body: ApplicationIn, ctx: Ctx, who: Who) -> Response:
    now = ctx.clock()
    try:
        current = await ctx.storage.get_application(app_id)
    except NotFoundError:
        uid = None if ids.looks_like_id(app_id, ids.APPLICATION) else check_name(app_id, "app_id")
        created = new_application(body, now, uid)
        await ctx.storage.create_application(
            created, change(who, "application.created", None, created, ctx)
        )
        return respond(application_out(created), 201)
    updated = replace(
        current, name=body.name, uid=body.uid or current.uid, rate_limit=body.throttle_rate,
        metadata=body.metadata, updated_at=now,
    )  # fmt: skip
    audit = change(who, "application.updated", current, updated, ctx)
    return respond(application_out(await ctx.storage.update_application(updated, audit)))


@router.patch("/{app_id}", response_model=ApplicationOut, summary="Patch an application")
async def patch_application(app: App, body: ApplicationPatch, ctx: Ctx, who: Who) -> Response:
    given = body.model_fields_set
    updated = replace(
        app,
        name=body.name if "name" in given and body.name is not None else app.name,
        uid=body.uid if "uid" in given else app.uid,
        rate_limit=body.throttle_rate if "throttle_rate" in given else app.rate_limit,
        metadata=(body.metadata or {}) if "metadata" in given else app.metadata,
        updated_at=ctx.clock(),
    )
    audit = change(who, "application.updated", app, updated, ctx)
    return respond(application_out(await ctx.storage.update_application(updated, audit)))


@router.delete("/{app_id}", status_code=204, summary="Delete an application and all its data")
async def delete_application(app: App, ctx: Ctx, who: Who) -> Response:
    await ctx.storage.delete_application(app.id, change(who, "application.deleted", app, None, ctx))
    ctx.tokens.forget(lambda token: token.app_id == app.id)
    ctx.sources.forget_app(app.id)
    return Response(status_code=204)
