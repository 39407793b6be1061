"""Destinations: ``/api/v1/app/{app_id}/destination``, as the svix SDK's ``destination``
(create, list, get, upsert, patch, delete, rotate_secret) and its ``transformation``.

A destination is an endpoint with a kind (usecases/destinations.py), so its attempts,
recover and resend are the endpoint routes' (``/endpoint/{destination_id}/...``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import App, Ctx, Page, Who, listed, respond
from hookline.api.schemas import CREATED_BY_PUT, EmptyOut, EndpointSecretRotateIn, ListResponse
from hookline.api.schemas.destinations import (
    DestinationIn,
    DestinationOut,
    DestinationPatch,
    DestinationSecretRotateOut,
    DestinationTransformationOut,
    DestinationTransformIn,
    destination_out,
)
from hookline.domain.models import Application, Endpoint
from hookline.usecases import destinations, endpoints
from hookline.usecases.destinations import DestinationDraft

router = APIRouter(prefix="/api/v1/app/{app_id}/destination", tags=["Destination"])


def _draft(body: DestinationIn) -> DestinationDraft:
    return DestinationDraft(
        kind=body.type, config=body.config, uid=body.uid, disabled=body.status == "disabled",
        batch_size=body.batch_size, max_wait_secs=body.max_wait_secs,
        event_types=body.event_types,
        channels=tuple(body.channels) if body.channels is not None else None,
        metadata=body.metadata,
    )  # fmt: skip


async def _shown(endpoint: Endpoint, ctx: Ctx) -> DestinationOut:
    health = await ctx.storage.destination_health([endpoint.id])
    return destination_out(endpoint, health.get(endpoint.id))


async def _destination(app: Application, destination_id: str, ctx: Ctx) -> Endpoint:
    return await destinations.get_destination(ctx.storage, app.id, destination_id)


@router.get(
    "", response_model=ListResponse[DestinationOut], summary="List destinations",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def list_destinations(app: App, ctx: Ctx, cursor: Page) -> Response:
    page = await ctx.storage.list_endpoints(app.id, cursor, destinations=True)
    health = await ctx.storage.destination_health([e.id for e in page.data])
    shown = [destination_out(e, health.get(e.id)) for e in page.data]
    return listed(ListResponse[DestinationOut], page, shown)


@router.post(
    "", response_model=DestinationOut, status_code=201, summary="Create a destination",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def create_destination(app: App, body: DestinationIn, ctx: Ctx, who: Who) -> Response:
    created = await destinations.create_destination(
        ctx.storage, who, app.id, _draft(body), ctx.settings.destination_policy, ctx.clock()
    )
    return respond(destination_out(created), 201)


@router.get(
    "/{destination_id}", response_model=DestinationOut, summary="Get a destination",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def get_destination(app: App, destination_id: str, ctx: Ctx) -> Response:
    return respond(await _shown(await _destination(app, destination_id, ctx), ctx))


@router.put(
    "/{destination_id}", response_model=DestinationOut, responses=CREATED_BY_PUT,
    summary="Update or create a destination", dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def upsert_destination(
    app: App, destination_id: str, body: DestinationIn, ctx: Ctx, who: Who
) -> Response:
    stored, created = await destinations.put_destination(
        ctx.storage, who, app.id, destination_id, _draft(body),
        ctx.settings.destination_policy, ctx.clock(),
    )  # fmt: skip
    return respond(await _shown(stored, ctx), 201 if created else 200)


#: The patch body's fields, and the draft's names for them (``status`` apart).
_PATCHED = {
    "uid": "uid", "batch_size": "batch_size", "max_wait_secs": "max_wait_secs",
    "event_types": "event_types", "metadata": "metadata",
}  # fmt: skip


@router.patch(
    "/{destination_id}", response_model=DestinationOut, summary="Patch a destination",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def patch_destination(
    app: App, destination_id: str, body: DestinationPatch, ctx: Ctx, who: Who
) -> Response:
    current = await _destination(app, destination_id, ctx)
    assert current.destination is not None
    given = body.model_fields_set
    changes: dict[str, Any] = {name: getattr(body, wire) for wire, name in _PATCHED.items()
                               if wire in given}  # fmt: skip
    if "metadata" in changes:
        changes["metadata"] = changes["metadata"] or {}
    if "channels" in given:
        changes["channels"] = tuple(body.channels) if body.channels is not None else None
    if "status" in given and body.status is not None:
        changes["disabled"] = body.status == "disabled"
    kind = body.type or current.destination.kind
    draft = destinations.patched_draft(current, kind, body.config or {}, changes)
    stored = await destinations.patch_destination(
        ctx.storage, who, current, draft, ctx.settings.destination_policy, ctx.clock()
    )
    return respond(await _shown(stored, ctx))


@router.delete(
    "/{destination_id}", status_code=204, summary="Delete a destination",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def delete_destination(app: App, destination_id: str, ctx: Ctx, who: Who) -> Response:
    current = await _destination(app, destination_id, ctx)
    await endpoints.delete_endpoint(ctx.storage, who, current, ctx.clock())
    return Response(status_code=204)


@router.post(
    "/{destination_id}/secret/rotate", response_model=DestinationSecretRotateOut,
    summary="Rotate a destination's signing secret", dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def rotate_secret(
    app: App, destination_id: str, body: EndpointSecretRotateIn, ctx: Ctx, who: Who
) -> Response:
    current = await _destination(app, destination_id, ctx)
    key = await destinations.rotate_secret(
        ctx.storage, who, current, body.key, body.grace_period_seconds, ctx.clock()
    )
    return respond(DestinationSecretRotateOut(key=key))


@router.get(
    "/{destination_id}/transformation", response_model=DestinationTransformationOut,
    summary="Get a destination's transformation", dependencies=[requires(APP_READ)],
)  # fmt: skip
async def get_transformation(app: App, destination_id: str, ctx: Ctx) -> Response:
    current = await _destination(app, destination_id, ctx)
    document = current.controls.transformation
    code = None if document is None else orjson.dumps(document).decode()
    return respond(DestinationTransformationOut(code=code, enabled=document is not None))


@router.patch(
    "/{destination_id}/transformation", response_model=EmptyOut,
    summary="Set or remove a destination's transformation", dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def set_transformation(
    app: App, destination_id: str, body: DestinationTransformIn, ctx: Ctx, who: Who
) -> Response:
    current = await _destination(app, destination_id, ctx)
    await destinations.set_transformation(ctx.storage, who, current, body.code, ctx.clock())
    return respond(EmptyOut())
