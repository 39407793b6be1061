"""Event types: ``/api/v1/event-type``."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.context import Ctx, Page, Who, change, listed, respond
from hookline.api.convert import event_type_out
from hookline.api.schemas import (
    CREATED_BY_PUT,
    EventTypeIn,
    EventTypeOut,
    EventTypePatch,
    EventTypeUpdate,
    ListResponse,
    check_name,
)
from hookline.api.versioning import check_versioning
from hookline.domain.models import EventType
from hookline.errors import NotFoundError

router = APIRouter(prefix="/api/v1/event-type", tags=["Event Type"])


@router.get("", response_model=ListResponse[EventTypeOut], summary="List event types")
async def list_event_types(
    ctx: Ctx,
    cursor: Page,
    include_archived: Annotated[bool, Query()] = False,
    with_content: Annotated[bool, Query()] = False,
) -> Response:
    page = await ctx.storage.list_event_types(cursor, include_archived)
    return listed(
        ListResponse[EventTypeOut], page, [event_type_out(e, with_content) for e in page.data]
    )


@router.post("", response_model=EventTypeOut, status_code=201, summary="Create an event type")
async def create_event_type(body: EventTypeIn, ctx: Ctx, who: Who) -> Response:
    now = ctx.clock()
    check_versioning(body.schemas, body.transformations, bool(body.enforce_schema))
    record = EventType(
        name=body.name, description=body.description, archived=body.archived,
        deprecated=body.deprecated, schemas=body.schemas, feature_flags=body.flags,
        group_name=body.group_name, created_at=now, updated_at=now,
        transformations=body.transformations, enforce_schema=bool(body.enforce_schema),
    )  # fmt: skip
    ctx.event_types.forget(body.name)
    try:
        existing = await ctx.storage.get_event_type(body.name)
    except NotFoundError:
        audit = change(who, "event_type.created", None, record, ctx)
        return respond(event_type_out(await ctx.storage.create_event_type(record, audit)), 201)
    if existing.archived:
        # As Svix: creating an archived name brings it back with the new definition.
        revived = replace(record, created_at=existing.created_at)
        audit = change(who, "event_type.updated", existing, revived, ctx)
        return respond(event_type_out(await ctx.storage.update_event_type(revived, audit)), 201)
    # Taken and live: the store answers 409, the same as a concurrent create.
    return respond(event_type_out(await ctx.storage.create_event_type(record)), 201)


@router.get("/{event_type_name}", response_model=EventTypeOut, summary="Get an event type")
async def get_event_type(event_type_name: str, ctx: Ctx) -> Response:
    return respond(event_type_out(await ctx.storage.get_event_type(event_type_name)))


@router.put(
    "/{event_type_name}", response_model=EventTypeOut, responses=CREATED_BY_PUT,
    summary="Update or create an event type",
)  # fmt: skip
async def update_event_type(
    event_type_name: str, body: EventTypeUpdate, ctx: Ctx, who: Who
) -> Response:
    now = ctx.clock()
    fields: dict[str, Any] = {
        "description": body.description, "archived": body.archived,
        "deprecated": body.deprecated, "schemas": body.schemas,
        "feature_flags": body.flags, "group_name": body.group_name,
        "transformations": body.transformations, "enforce_schema": bool(body.enforce_schema),
    }  # fmt: skip
    check_versioning(body.schemas, body.transformations, bool(body.enforce_schema))
    ctx.event_types.forget(event_type_name)
    try:
        current = await ctx.storage.get_event_type(event_type_name)
    except NotFoundError:
        check_name(event_type_name, "event_type_name")
        created = EventType(name=event_type_name, created_at=now, updated_at=now, **fields)
        audit = change(who, "event_type.created", None, created, ctx)
        return respond(event_type_out(await ctx.storage.create_event_type(created, audit)), 201)
    updated = replace(current, updated_at=now, **fields)
    audit = change(who, "event_type.updated", current, updated, ctx)
    return respond(event_type_out(await ctx.storage.update_event_type(updated, audit)))


@router.patch("/{event_type_name}", response_model=EventTypeOut, summary="Patch an event type")
async def patch_event_type(
    event_type_name: str, body: EventTypePatch, ctx: Ctx, who: Who
) -> Response:
    current = await ctx.storage.get_event_type(event_type_name)
    given = body.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in (
            "description", "archived", "deprecated", "schemas", "group_name", "transformations",
            "enforce_schema",
        )
        if name in given
    }  # fmt: skip
    if body.flag_given:
        changes["feature_flags"] = body.flags
    for flag in ("description", "archived", "deprecated", "enforce_schema"):
        if changes.get(flag, 0) is None:
            changes.pop(flag)  # these cannot be null: an explicit null leaves them as they are
    updated = replace(current, updated_at=ctx.clock(), **changes)
    check_versioning(updated.schemas, updated.transformations, updated.enforce_schema)
    ctx.event_types.forget(event_type_name)
    audit = change(who, "event_type.updated", current, updated, ctx)
    return respond(event_type_out(await ctx.storage.update_event_type(updated, audit)))


@router.delete("/{event_type_name}", status_code=204, summary="Archive (or expunge) an event type")
async def delete_event_type(
    event_type_name: str, ctx: Ctx, who: Who, expunge: Annotated[bool, Query()] = False
) -> Response:
    current = await ctx.storage.get_event_type(event_type_name)
    if expunge:
        audit = change(who, "event_type.deleted", current, None, ctx)
        await ctx.storage.delete_event_type(current.name, audit)
    else:
        archived = replace(current, archived=True, updated_at=ctx.clock())
        audit = change(who, "event_type.archived", current, archived, ctx)
        await ctx.storage.update_event_type(archived, audit)
    return Response(status_code=204)
