"""Inbound sources: ``/api/v1/app/{app_id}/source``: where a provider's webhooks arrive."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import App, Ctx, Page, Who, listed, respond
from hookline.api.schemas import (
    ListResponse,
    SourceIn,
    SourceOut,
    SourcePatch,
    VerifierIn,
    VerifierOut,
    utc,
)
from hookline.domain.models import Source
from hookline.usecases import sources
from hookline.usecases.sources import Ingress, VerifierDraft

router = APIRouter(prefix="/api/v1/app/{app_id}/source", tags=["Inbound Source"])


def verifier_draft(body: VerifierIn) -> VerifierDraft:
    """The use cases' draft of a verifier body."""
    return VerifierDraft(kind=body.type, config=body.config, secrets=body.secrets)


def ingest_url(request: Request, ctx: Ctx, source: Source) -> str:
    """Where the provider posts: the public URL if set, else the URL this request came to."""
    base = ctx.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/in/{source.token}"


def source_out(request: Request, ctx: Ctx, source: Source) -> SourceOut:
    """A source as the API shows it (never its secrets)."""
    return SourceOut(
        id=source.id, uid=source.uid, name=source.name,
        ingest_url=ingest_url(request, ctx, source),
        verifier=VerifierOut(
            type=source.verifier, config=source.config, secret_count=len(source.secrets)
        ),
        dedup_window_seconds=source.dedup_window, forward_headers=source.forward_headers,
        allowed_networks=list(source.allowed_networks), rate_limit=source.rate_limit,
        created_at=utc(source.created_at), updated_at=utc(source.updated_at),
    )  # fmt: skip


@router.post(
    "",
    response_model=SourceOut,
    status_code=201,
    summary="Create an inbound source",
    dependencies=[requires(APP_WRITE)],
)
async def create_source(app: App, body: SourceIn, request: Request, ctx: Ctx, who: Who) -> Response:
    source = await sources.create_source(
        ctx.storage, who, app.id, body.name, body.uid, verifier_draft(body.verifier),
        body.dedup_window_seconds, body.forward_headers, ctx.clock(),
        Ingress(body.allowed_networks, body.rate_limit),
    )  # fmt: skip
    return respond(source_out(request, ctx, source), 201)


@router.get(
    "",
    response_model=ListResponse[SourceOut],
    summary="List inbound sources",
    dependencies=[requires(APP_READ)],
)
async def list_sources(app: App, cursor: Page, request: Request, ctx: Ctx) -> Response:
    page = await ctx.storage.list_sources(app.id, cursor)
    return listed(ListResponse[SourceOut], page, [source_out(request, ctx, s) for s in page.data])


@router.get(
    "/{source_id}",
    response_model=SourceOut,
    summary="Get an inbound source",
    dependencies=[requires(APP_READ)],
)
async def get_source(app: App, source_id: str, request: Request, ctx: Ctx) -> Response:
    return respond(source_out(request, ctx, await ctx.storage.get_source(app.id, source_id)))


@router.patch(
    "/{source_id}",
    response_model=SourceOut,
    summary="Patch an inbound source",
    dependencies=[requires(APP_WRITE)],
)
async def patch_source(
    app: App, source_id: str, body: SourcePatch, request: Request, ctx: Ctx, who: Who
) -> Response:
    current = await ctx.storage.get_source(app.id, source_id)
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in given and body.name is not None:
        changes["name"] = body.name
    if "uid" in given:
        changes["uid"] = body.uid
    if body.dedup_window_seconds is not None:
        changes["dedup_window"] = body.dedup_window_seconds
    if body.forward_headers is not None:
        changes["forward_headers"] = body.forward_headers
    if body.allowed_networks is not None:
        changes["allowed_networks"] = body.allowed_networks
    if "rate_limit" in given:
        changes["rate_limit"] = body.rate_limit
    verifier = None if body.verifier is None else verifier_draft(body.verifier)
    updated = await sources.patch_source(ctx.storage, who, current, changes, verifier, ctx.clock())
    ctx.sources.forget(current.token)
    return respond(source_out(request, ctx, updated))


@router.post(
    "/{source_id}/rotate-url", response_model=SourceOut,
    summary="Give the source a new receiving URL (the old one stops working)",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def rotate_url(app: App, source_id: str, request: Request, ctx: Ctx, who: Who) -> Response:
    current = await ctx.storage.get_source(app.id, source_id)
    updated = await sources.rotate_url(ctx.storage, who, current, ctx.clock())
    ctx.sources.forget(current.token)
    return respond(source_out(request, ctx, updated))


@router.delete(
    "/{source_id}",
    status_code=204,
    summary="Delete an inbound source",
    dependencies=[requires(APP_WRITE)],
)
async def delete_source(app: App, source_id: str, ctx: Ctx, who: Who) -> Response:
    current = await ctx.storage.get_source(app.id, source_id)
    await sources.delete_source(ctx.storage, who, current, ctx.clock())
    ctx.sources.forget(current.token)
    return Response(status_code=204)
