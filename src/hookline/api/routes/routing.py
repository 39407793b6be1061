"""Trying routing and transformations without publishing: ``/api/v1/app/{app_id}/routing``."""

from __future__ import annotations

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
from hookline.usecases import routing

router = APIRouter(prefix="/api/v1/app/{app_id}", tags=["Routing"])


@router.post(
    "/routing/preview", response_model=RoutingPreviewOut,
    summary="Which endpoints would receive this message, and why not the others",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def preview(app: App, body: RoutingPreviewIn, ctx: Ctx) -> Response:
    channels = tuple(body.channels) if body.channels else None
    judged = await routing.preview(
        ctx.storage, app.id, body.event_type, channels, body.payload, body.headers or {}
    )
    verdicts = [
        RoutedEndpointOut(
            endpoint_id=v.endpoint.id,
            uid=v.endpoint.uid,
            url=v.endpoint.url,
            matched=v.matched,
            reason=v.reason,
        )
        for v in judged
    ]
    return respond(RoutingPreviewOut(data=verdicts))


@router.post(
    "/transformation/dry-run", response_model=TransformationDryRunOut,
    summary="Apply a transformation to a payload, as delivery would (nothing is saved)",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def dry_run(app: App, body: TransformationDryRunIn, ctx: Ctx) -> Response:
    del app, ctx  # scoped to the application like the endpoints it is tried for
    result = routing.dry_run(body.transformation, body.payload)
    return respond(
        TransformationDryRunOut(
            payload=result.value, headers=result.headers, size_bytes=len(result.body)
        )
    )
