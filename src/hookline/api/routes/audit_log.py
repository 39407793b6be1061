"""The audit trail: ``/api/v1/app/{app_id}/audit`` per application, ``/api/v1/audit`` for all."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from hookline.api.access import ADMIN_READ, APP_READ, requires
from hookline.api.context import App, Ctx, Page, listed
from hookline.api.convert import audit_out
from hookline.api.schemas import AuditEntryOut, ListResponse
from hookline.domain.audit import AuditEntry
from hookline.domain.models import Page as RecordPage

router = APIRouter(tags=["Audit"])


def _listed(page: RecordPage[AuditEntry]) -> Response:
    return listed(ListResponse[AuditEntryOut], page, [audit_out(e) for e in page.data])


@router.get(
    "/api/v1/app/{app_id}/audit", response_model=ListResponse[AuditEntryOut],
    summary="List an application's changes, newest first",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def list_app_audit(app: App, ctx: Ctx, cursor: Page) -> Response:
    return _listed(await ctx.storage.list_audit(cursor, app.id))


@router.get(
    "/api/v1/audit", response_model=ListResponse[AuditEntryOut],
    summary="List every change (admin), newest first",
    dependencies=[requires(ADMIN_READ)],
)  # fmt: skip
async def list_audit(ctx: Ctx, cursor: Page, app_id: str | None = None) -> Response:
    return _listed(await ctx.storage.list_audit(cursor, app_id))
