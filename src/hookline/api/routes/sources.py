"""Inbound sources: ``/api/v1/app/{app_id}/source``: where a provider's webhooks arrive."""

from __future__ import annotations

import secrets as _secrets
from dataclasses import replace

from fastapi import APIRouter, Request
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import App, Ctx, Page, Who, change, listed, respond
from hookline.api.schemas import (
    ListResponse,
    SourceIn,
    SourceOut,
    SourcePatch,
    VerifierIn,
    VerifierOut,
    utc,
)
from hookline.domain import ids
from hookline.domain.models import Source
from hookline.domain.verifiers import build_verifier
from hookline.errors import ValidationError

router = APIRouter(prefix="/api/v1/app/{app_id}/source", tags=["Inbound Source"])

#: Receiving tokens look like API tokens (``hk_``), so the log redaction hides them too.
INGEST_TOKEN_PREFIX = "hk_in_"  # noqa: S105 - a marker, not a secret


def new_ingest_token() -> str:
    """An unguessable path segment for ``/in/<token>``."""
    return INGEST_TOKEN_PREFIX + _secrets.token_urlsafe(24)


def checked_verifier(body: VerifierIn) -> VerifierIn:
    """Refuse a verifier the gateway could not build, naming the field at fault."""
    try:
        build_verifier(body.type, body.config, body.secrets)
    except ValidationError as error:
        raise ValidationError(error.detail, field=("verifier", *error.field)) from None
    return body


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
    verifier = checked_verifier(body.verifier)
    now = ctx.clock()
    source = Source(
        id=ids.new_id(ids.SOURCE, now), app_id=app.id, name=body.name, uid=body.uid,
        token=new_ingest_token(), verifier=verifier.type, config=verifier.config,
        secrets=tuple(verifier.secrets), dedup_window=body.dedup_window_seconds,
        forward_headers=body.forward_headers, created_at=now, updated_at=now,
    )  # fmt: skip
    await ctx.storage.create_source(source, change(who, "source.created", None, source, ctx))
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
    updated = replace(current, updated_at=ctx.clock())
    if "name" in given and body.name is not None:
        updated = replace(updated, name=body.name)
    if "uid" in given:
        updated = replace(updated, uid=body.uid)
    if body.verifier is not None:
        verifier = checked_verifier(body.verifier)
        updated = replace(
            updated, verifier=verifier.type, config=verifier.config,
            secrets=tuple(verifier.secrets),
        )  # fmt: skip
    if body.dedup_window_seconds is not None:
        updated = replace(updated, dedup_window=body.dedup_window_seconds)
    if body.forward_headers is not None:
        updated = replace(updated, forward_headers=body.forward_headers)
    audit = change(who, "source.updated", current, updated, ctx)
    await ctx.storage.update_source(updated, audit)
    ctx.sources.forget(current.token)
    return respond(source_out(request, ctx, updated))


@router.post(
    "/{source_id}/rotate-url", response_model=SourceOut,
    summary="Give the source a new receiving URL (the old one stops working)",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def rotate_url(app: App, source_id: str, request: Request, ctx: Ctx, who: Who) -> Response:
    current = await ctx.storage.get_source(app.id, source_id)
    updated = replace(current, token=new_ingest_token(), updated_at=ctx.clock())
    await ctx.storage.update_source(
        updated, change(who, "source.url.rotated", current, updated, ctx)
    )
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
    await ctx.storage.delete_source(
        app.id, current.id, change(who, "source.deleted", current, None, ctx)
    )
    ctx.sources.forget(current.token)
    return Response(status_code=204)
