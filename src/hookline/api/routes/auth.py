"""Access: Svix's ``/api/v1/auth`` calls (portal links, logout, expire-all) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from hookline.api.access import ADMIN_READ, ADMIN_WRITE, TOKEN_WRITE, requires
from hookline.api.context import Ctx, Page, Who, change, listed, respond
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
from hookline.domain import audit, ids, tokens
from hookline.errors import ForbiddenError, NotFoundError
from hookline.usecases import applications

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
    plaintext, token = tokens.issue(
        "app portal", now, token_id=ids.new_id(ids.TOKEN, now), app_id=app.id,
        read_only=bool(body.read_only), session_id=body.session_id, created_by=who.token_id,
        expires_at=now + (body.expiry or PORTAL_EXPIRY_MAX),
    )  # fmt: skip
    await ctx.storage.create_token(token, change(who, "token.created", None, token, ctx))
    return respond(AppPortalAccessOut(url=portal_url(request, ctx, plaintext), token=plaintext))


@router.post(
    "/logout",
    status_code=204,
    summary="Log out (revoke) the application token in use",
    dependencies=[requires(TOKEN_WRITE)],
)
async def logout(ctx: Ctx, who: Who) -> Response:
    if who.is_admin:
        raise ForbiddenError("only application tokens can log out; revoke admin tokens by id")
    token = await ctx.storage.get_token(who.token_id)
    revoked = await ctx.storage.revoke_token(
        token.id, ctx.clock(), change(who, "token.revoked", token, None, ctx)
    )
    ctx.tokens.forget(lambda cached: cached.id == revoked.id)
    return Response(status_code=204)


@router.post(
    "/app/{app_id}/expire-all",
    status_code=204,
    summary="Expire an application's tokens",
    dependencies=[requires(ADMIN_WRITE)],
)
async def expire_all(app_id: str, body: ApplicationTokenExpireIn, ctx: Ctx, who: Who) -> Response:
    app = await ctx.storage.get_application(app_id)
    now = ctx.clock()
    at = now + (body.expiry or 0)
    entry = audit.action(
        who, "token.expired", app.id, ("application", app.id),
        {"expires_at": at, "session_ids": body.session_ids}, now,
    )  # fmt: skip
    await ctx.storage.expire_app_tokens(app.id, at, body.session_ids, entry)
    ctx.tokens.forget(lambda cached: cached.app_id == app.id)
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
    app_id = None
    if body.app_id is not None:
        try:
            app_id = (await ctx.storage.get_application(body.app_id)).id
        except NotFoundError:
            raise NotFoundError(f"application {body.app_id!r} not found") from None
    now = ctx.clock()
    plaintext, token = tokens.issue(
        body.name, now, token_id=ids.new_id(ids.TOKEN, now), app_id=app_id,
        read_only=body.read_only, created_by=who.token_id,
        expires_at=None if body.expiry is None else now + body.expiry,
    )  # fmt: skip
    await ctx.storage.create_token(token, change(who, "token.created", None, token, ctx))
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
    token = await ctx.storage.get_token(token_id)
    revoked = await ctx.storage.revoke_token(
        token.id, ctx.clock(), change(who, "token.revoked", token, None, ctx)
    )
    ctx.tokens.forget(lambda cached: cached.id == revoked.id)
    return Response(status_code=204)
