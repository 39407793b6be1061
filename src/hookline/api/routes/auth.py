"""Access: Svix's ``/api/v1/auth`` calls (portal links, logout, expire-all) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from hookline.api.access import ADMIN_READ, ADMIN_WRITE, TOKEN_WRITE, requires
from hookline.api.context import Ctx, Page, Who, listed, respond
from hookline.api.convert import token_out
from hookline.api.routes.applications import application_draft
from hookline.api.schemas import (
    PORTAL_EXPIRY_MAX,
    ApiTokenCreatedOut,
    ApiTokenIn,
    ApiTokenOut,
    ApplicationTokenExpireIn,
    AppPortalAccessIn,
    AppPortalAccessOut,
    ListResponse,
)
from hookline.usecases import applications, tokens

router = APIRouter(prefix="/api/v1/auth", tags=["Authentication"])


def portal_url(request: Request, ctx: Ctx, token: str) -> str:
    """Where the customer portal opens; the token rides in the fragment, never in logs."""
    base = ctx.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/portal#token={token}"


@router.post(
    "/app-portal-access/{app_id}", response_model=AppPortalAccessOut,
    summary="Get a portal link and a token for one application",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def app_portal_access(
    app_id: str, body: AppPortalAccessIn, request: Request, ctx: Ctx, who: Who
) -> Response:
    now = ctx.clock()
    draft = None if body.application is None else application_draft(body.application)
    app = await applications.application_or_create(ctx.storage, who, app_id, draft, now)
    plaintext, _ = await tokens.issue(
        ctx.storage, who, "app portal", now, app_id=app.id, read_only=bool(body.read_only),
        expires_at=now + (body.expiry or PORTAL_EXPIRY_MAX), session_id=body.session_id,
    )  # fmt: skip
    return respond(AppPortalAccessOut(url=portal_url(request, ctx, plaintext), token=plaintext))


@router.post(
    "/logout",
    status_code=204,
    summary="Log out (revoke) the application token in use",
    dependencies=[requires(TOKEN_WRITE)],
)
async def logout(ctx: Ctx, who: Who) -> Response:
    revoked = await tokens.log_out(ctx.storage, who, ctx.clock())
    ctx.tokens.forget(lambda cached: cached.id == revoked.id)
    return Response(status_code=204)


@router.post(
    "/app/{app_id}/expire-all",
    status_code=204,
    summary="Expire an application's tokens",
    dependencies=[requires(ADMIN_WRITE)],
)
async def expire_all(app_id: str, body: ApplicationTokenExpireIn, ctx: Ctx, who: Who) -> Response:
    expired = await tokens.expire_app_tokens(
        ctx.storage, who, app_id, body.expiry or 0, body.session_ids, ctx.clock()
    )
    ctx.tokens.forget(lambda cached: cached.app_id == expired)
    return Response(status_code=204)


# hookline's own token management (admin only) ---------------------------------------


@router.post(
    "/token",
    response_model=ApiTokenCreatedOut,
    status_code=201,
    summary="Create an API token",
    dependencies=[requires(ADMIN_WRITE)],
)
async def create_token(body: ApiTokenIn, ctx: Ctx, who: Who) -> Response:
    plaintext, token = await tokens.create_token(
        ctx.storage, who, body.name, body.app_id, body.read_only, body.expiry, ctx.clock()
    )
    shown = token_out(token)
    return respond(ApiTokenCreatedOut(**shown.model_dump(), token=plaintext), 201)


@router.get(
    "/token",
    response_model=ListResponse[ApiTokenOut],
    summary="List API tokens",
    dependencies=[requires(ADMIN_READ)],
)
async def list_tokens(ctx: Ctx, cursor: Page, app_id: str | None = None) -> Response:
    page = await ctx.storage.list_tokens(cursor, app_id)
    return listed(ListResponse[ApiTokenOut], page, [token_out(t) for t in page.data])


@router.get(
    "/token/{token_id}",
    response_model=ApiTokenOut,
    summary="Get an API token",
    dependencies=[requires(ADMIN_READ)],
)
async def get_token(token_id: str, ctx: Ctx) -> Response:
    return respond(token_out(await ctx.storage.get_token(token_id)))


@router.delete(
    "/token/{token_id}",
    status_code=204,
    summary="Revoke an API token",
    dependencies=[requires(ADMIN_WRITE)],
)
async def revoke_token(token_id: str, ctx: Ctx, who: Who) -> Response:
    revoked = await tokens.revoke(ctx.storage, who, token_id, ctx.clock())
    ctx.tokens.forget(lambda cached: cached.id == revoked.id)
    return Response(status_code=204)
