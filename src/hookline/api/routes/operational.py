"""Operational webhooks: ``/api/v1/operational-webhook/endpoint`` (admin only, as Svix).

The operator's endpoints for hookline's own events (``endpoint.created``,
``message.attempt.exhausted``...; see ``domain.operational``). They are endpoints of
a reserved application, so they are signed, retried and logged like any other.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from starlette.responses import Response

from hookline.api.access import ADMIN_READ, ADMIN_WRITE, requires
from hookline.api.context import Ctx, Page, Who, listed, respond
from hookline.api.convert import endpoint_out
from hookline.api.schemas import (
    EndpointHeadersIn,
    EndpointHeadersOut,
    EndpointOut,
    EndpointSecretOut,
    EndpointSecretRotateIn,
    ListResponse,
    OperationalEndpointIn,
    OperationalEndpointUpdate,
)
from hookline.domain import ids, operational
from hookline.domain.audit import change as audit_change
from hookline.domain.models import Endpoint
from hookline.errors import ValidationError
from hookline.usecases import endpoints

router = APIRouter(prefix="/api/v1/operational-webhook/endpoint", tags=["Operational Webhook"])

APP = operational.APP_ID


def _event_types(names: list[str] | None) -> tuple[str, ...] | None:
    for index, name in enumerate(names or []):
        if name not in operational.EVENT_TYPES:
            raise ValidationError(
                f"{name!r} is not an operational event type", field=("eventTypes", index)
            )
    return None if names is None else tuple(names)


@router.get(
    "",
    response_model=ListResponse[EndpointOut],
    summary="List operational endpoints",
    dependencies=[requires(ADMIN_READ)],
)
async def list_endpoints(ctx: Ctx, cursor: Page) -> Response:
    page = await ctx.storage.list_endpoints(APP, cursor)
    return listed(ListResponse[EndpointOut], page, [endpoint_out(e) for e in page.data])


@router.post(
    "",
    response_model=EndpointOut,
    status_code=201,
    summary="Create an operational endpoint",
    dependencies=[requires(ADMIN_WRITE)],
)
async def create_endpoint(body: OperationalEndpointIn, ctx: Ctx, who: Who) -> Response:
    now = ctx.clock()
    policy = ctx.settings.destination_policy
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, now), app_id=APP,
        url=await endpoints.check_url(body.url, who, policy),
        secret=endpoints.normalise_secret(body.secret), uid=body.uid, description=body.description,
        disabled=body.disabled, filter_types=_event_types(body.event_types),
        headers=body.headers, metadata=body.metadata, rate_limit=body.throttle_rate,
        created_at=now, updated_at=now,
    )  # fmt: skip
    return respond(endpoint_out(await endpoints.store_new(ctx.storage, who, endpoint, now)), 201)


@router.get(
    "/{endpoint_id}",
    response_model=EndpointOut,
    summary="Get an operational endpoint",
    dependencies=[requires(ADMIN_READ)],
)
async def get_endpoint(endpoint_id: str, ctx: Ctx) -> Response:
    return respond(endpoint_out(await ctx.storage.get_endpoint(APP, endpoint_id)))


@router.put(
    "/{endpoint_id}",
    response_model=EndpointOut,
    summary="Update an operational endpoint",
    dependencies=[requires(ADMIN_WRITE)],
)
async def update_endpoint(
    endpoint_id: str, body: OperationalEndpointUpdate, ctx: Ctx, who: Who
) -> Response:
    current = await ctx.storage.get_endpoint(APP, endpoint_id)
    now = ctx.clock()
    updated = replace(
        current, url=await endpoints.check_url(body.url, who, ctx.settings.destination_policy),
        description=body.description, uid=body.uid or current.uid, disabled=body.disabled,
        filter_types=_event_types(body.event_types), metadata=body.metadata,
        rate_limit=body.throttle_rate, updated_at=now,
    )  # fmt: skip
    audit = audit_change(who, "endpoint.updated", current, updated, now)
    return respond(endpoint_out(await ctx.storage.update_endpoint(updated, audit)))


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Delete an operational endpoint",
    dependencies=[requires(ADMIN_WRITE)],
)
async def delete_endpoint(endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    endpoint = await ctx.storage.get_endpoint(APP, endpoint_id)
    await endpoints.delete_endpoint(ctx.storage, who, endpoint, ctx.clock())
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/secret",
    response_model=EndpointSecretOut,
    summary="Get the secret",
    dependencies=[requires(ADMIN_READ)],
)
async def get_secret(endpoint_id: str, ctx: Ctx) -> Response:
    return respond(EndpointSecretOut(key=(await ctx.storage.get_endpoint(APP, endpoint_id)).secret))


@router.post(
    "/{endpoint_id}/secret/rotate",
    response_model=EndpointSecretOut,
    summary="Rotate the secret",
    dependencies=[requires(ADMIN_WRITE)],
)
async def rotate_secret(
    endpoint_id: str, body: EndpointSecretRotateIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await ctx.storage.get_endpoint(APP, endpoint_id)
    key = await endpoints.rotate_secret(
        ctx.storage, who, endpoint, ctx.clock(), body.key, body.grace_period_seconds
    )
    return respond(EndpointSecretOut(key=key))


@router.get(
    "/{endpoint_id}/headers",
    response_model=EndpointHeadersOut,
    summary="Get headers",
    dependencies=[requires(ADMIN_READ)],
)
async def get_headers(endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await ctx.storage.get_endpoint(APP, endpoint_id)
    return respond(EndpointHeadersOut(headers=endpoint.headers, sensitive=[]))


@router.put(
    "/{endpoint_id}/headers",
    status_code=204,
    summary="Replace headers",
    dependencies=[requires(ADMIN_WRITE)],
)
async def set_headers(endpoint_id: str, body: EndpointHeadersIn, ctx: Ctx, who: Who) -> Response:
    endpoint = await ctx.storage.get_endpoint(APP, endpoint_id)
    await endpoints.set_headers(ctx.storage, who, endpoint, body.headers, ctx.clock())
    return Response(status_code=204)
