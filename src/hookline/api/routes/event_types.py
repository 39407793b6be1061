"""Event types: ``/api/v1/event-type``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.access import ADMIN_WRITE, TOKEN_READ, requires
from hookline.api.context import Ctx, Page, Who, listed, respond
from hookline.api.convert import event_type_out
from hookline.api.schemas import (
    CREATED_BY_PUT,
    EventTypeIn,
    EventTypeOut,
    EventTypePatch,
    EventTypeUpdate,
    ListResponse,
)
from hookline.api.schemas.operations import (
    EventTypeFromOpenApiOut,
    EventTypeImportOpenApiData,
    EventTypeImportOpenApiIn,
    EventTypeImportOpenApiOut,
)
from hookline.domain.models import EventType
from hookline.usecases import event_types, openapi_import

router = APIRouter(prefix="/api/v1/event-type", tags=["Event Type"])


@router.get(
    "",
    response_model=ListResponse[EventTypeOut],
    summary="List event types",
    dependencies=[requires(TOKEN_READ)],
)
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


@router.post(
    "/import/openapi", response_model=EventTypeImportOpenApiOut,
    summary="Create or update event types from an OpenAPI document's webhooks",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def import_openapi(body: EventTypeImportOpenApiIn, ctx: Ctx, who: Who) -> Response:
    """Each webhook of ``webhooks`` (3.1) or ``x-webhooks`` (3.0) is an event type: its
    name the key, its schema the ``post`` body's. ``replaceAll`` archives the live types
    the document leaves out; ``dryRun`` only says what would change."""
    document = openapi_import.parse_document(body.spec, body.spec_raw)
    modified, changing = await openapi_import.import_openapi(
        ctx.storage, ctx.event_types, who, document, dry_run=body.dry_run,
        replace_all=body.replace_all, now=ctx.clock(),
    )  # fmt: skip
    to_modify = [
        EventTypeFromOpenApiOut(
            name=e.name, description=e.description, schemas=e.schemas, deprecated=e.deprecated,
            group_name=e.group_name,
            feature_flags=None if e.feature_flags is None else list(e.feature_flags),
        )
        for e in changing
    ]  # fmt: skip
    data = EventTypeImportOpenApiData(
        modified=modified, to_modify=to_modify if body.dry_run else None
    )
    return respond(EventTypeImportOpenApiOut(data=data))


@router.post(
    "",
    response_model=EventTypeOut,
    status_code=201,
    summary="Create an event type",
    dependencies=[requires(ADMIN_WRITE)],
)
async def create_event_type(body: EventTypeIn, ctx: Ctx, who: Who) -> Response:
    now = ctx.clock()
    record = EventType(
        name=body.name, description=body.description, archived=body.archived,
        deprecated=body.deprecated, schemas=body.schemas, feature_flags=body.flags,
        group_name=body.group_name, created_at=now, updated_at=now,
        transformations=body.transformations, enforce_schema=bool(body.enforce_schema),
    )  # fmt: skip
    stored = await event_types.create_event_type(ctx.storage, ctx.event_types, who, record, now)
    return respond(event_type_out(stored), 201)


@router.get(
    "/{event_type_name}",
    response_model=EventTypeOut,
    summary="Get an event type",
    dependencies=[requires(TOKEN_READ)],
)
async def get_event_type(event_type_name: str, ctx: Ctx) -> Response:
    return respond(event_type_out(await ctx.storage.get_event_type(event_type_name)))


@router.put(
    "/{event_type_name}", response_model=EventTypeOut, responses=CREATED_BY_PUT,
    summary="Update or create an event type",
    dependencies=[requires(ADMIN_WRITE)],
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
    stored, created = await event_types.put_event_type(
        ctx.storage, ctx.event_types, who, event_type_name, fields, now
    )
    return respond(event_type_out(stored), 201 if created else 200)


@router.patch(
    "/{event_type_name}",
    response_model=EventTypeOut,
    summary="Patch an event type",
    dependencies=[requires(ADMIN_WRITE)],
)
async def patch_event_type(
    event_type_name: str, body: EventTypePatch, ctx: Ctx, who: Who
) -> Response:
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
    stored = await event_types.patch_event_type(
        ctx.storage, ctx.event_types, who, event_type_name, changes, ctx.clock()
    )
    return respond(event_type_out(stored))


@router.delete(
    "/{event_type_name}",
    status_code=204,
    summary="Archive (or expunge) an event type",
    dependencies=[requires(ADMIN_WRITE)],
)
async def delete_event_type(
    event_type_name: str, ctx: Ctx, who: Who, expunge: Annotated[bool, Query()] = False
) -> Response:
    await event_types.delete_event_type(
        ctx.storage, ctx.event_types, who, event_type_name, expunge, ctx.clock()
    )
    return Response(status_code=204)
