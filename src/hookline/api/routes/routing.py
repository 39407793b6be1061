"""Trying routing and transformations without publishing: ``/api/v1/app/{app_id}/routing``."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from hookline.api.access import APP_WRITE, requires
from hookline.api.context import App, Ctx, respond
from hookline.api.schemas import (
    RoutedEndpointOut,
    RoutingPreviewIn,
    RoutingPreviewOut,
    TransformationDryRunIn,
    TransformationDryRunOut,
)
from hookline.domain.routing import RouteTarget, why_not
from hookline.domain.transform import TransformError
from hookline.errors import ValidationError
from hookline.storage.base import Cursor
from hookline.usecases.controls import checked_transformation

router = APIRouter(prefix="/api/v1/app/{app_id}", tags=["Routing"])

#: Endpoints listed per page while previewing (all of the application's are judged).
_PAGE = 250


@router.post(
    "/routing/preview", response_model=RoutingPreviewOut,
    summary="Which endpoints would receive this message, and why not the others",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def preview(app: App, body: RoutingPreviewIn, ctx: Ctx) -> Response:
    verdicts = []
    channels = tuple(body.channels) if body.channels else None
    headers = {k.lower(): v for k, v in (body.headers or {}).items()}
    cursor = Cursor(limit=_PAGE, ascending=True)
    while True:
        page = await ctx.storage.list_endpoints(app.id, cursor)
        for endpoint in page.data:
            controls = endpoint.controls
            filter_text = (
                None if controls.filter is None else orjson.dumps(controls.filter).decode()
            )
            target = RouteTarget(
                id=endpoint.id, disabled=endpoint.disabled, filter_types=endpoint.filter_types,
                channels=endpoint.channels, paused=endpoint.paused, controls=controls,
                filter_text=filter_text,
            )  # fmt: skip
            reason = why_not(target, body.event_type, channels, body.payload, headers)
            verdicts.append(
                RoutedEndpointOut(
                    endpoint_id=endpoint.id,
                    uid=endpoint.uid,
                    url=endpoint.url,
                    matched=reason is None,
                    reason=reason,
                )
            )
        if page.done:
            break
        cursor = Cursor(limit=_PAGE, iterator=page.iterator, ascending=True)
    return respond(RoutingPreviewOut(data=verdicts))


@router.post(
    "/transformation/dry-run", response_model=TransformationDryRunOut,
    summary="Apply a transformation to a payload, as delivery would (nothing is saved)",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def dry_run(app: App, body: TransformationDryRunIn, ctx: Ctx) -> Response:
    del app, ctx  # scoped to the application like the endpoints it is tried for
    transformation = checked_transformation(body.transformation)
    try:
        result = transformation.apply(body.payload)
    except TransformError as error:
        raise ValidationError(
            f"the transformation fails on this payload: {error.message}",
            field=("transformation", *error.path) if error.path else ("payload",),
        ) from None
    return respond(
        TransformationDryRunOut(
            payload=result.value, headers=result.headers, size_bytes=len(result.body)
        )
    )
