"""Svix's environment: ``/api/v1/environment/export`` and ``/import`` (docs/environment.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header
from starlette.responses import Response

from hookline.api.access import ADMIN_WRITE, requires
from hookline.api.context import Ctx, Who
from hookline.api.convert import application_out, endpoint_out, event_type_out
from hookline.api.errors import json_response
from hookline.api.routes.endpoints import endpoint_draft
from hookline.api.schemas.environment import FORMAT, EnvironmentIn, HooklineSettingsIn
from hookline.domain.models import Application, EventType
from hookline.errors import ValidationError
from hookline.usecases import environment
from hookline.usecases.environment import EnvironmentExport, ImportedEndpoint

router = APIRouter(prefix="/api/v1/environment", tags=["Environment"])

SecretsKey = Annotated[
    str | None,
    Header(
        alias=environment.SECRETS_HEADER,
        description="A key of `hookline keygen`'s form: endpoints' secrets and headers are "
        "exported sealed under it (and read back with it on import). Without it, none are.",
    ),
]


@router.post(
    "/export", summary="Export event types, applications and endpoints",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def export(ctx: Ctx, secrets_key: SecretsKey = None) -> Response:
    """Svix's ``EnvironmentOut``; applications and endpoints are in ``settings.hookline``
    (Svix's document has no place for them, and its SDKs keep ``settings`` as it is)."""
    found = await environment.export_environment(ctx.storage, secrets_key)
    return json_response(200, _document(found, ctx.clock()))


def _document(found: EnvironmentExport, now: float) -> dict[str, Any]:
    applications = []
    for item in found.applications:
        endpoints = []
        for exported in item.endpoints:
            out = endpoint_out(exported.endpoint).model_dump(mode="json", by_alias=True)
            if exported.sealed_secret is not None:
                out["sealedSecret"] = exported.sealed_secret
                out["sealedHeaders"] = exported.sealed_headers
            endpoints.append(out)
        app = application_out(item.application).model_dump(mode="json", by_alias=True)
        applications.append({**app, "endpoints": endpoints})
    return {
        "version": 1,
        "createdAt": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "eventTypes": [
            event_type_out(e).model_dump(mode="json", by_alias=True) for e in found.event_types
        ],
        "settings": {
            "hookline": {
                "format": FORMAT, "secretsKeyId": found.key_id, "applications": applications,
            }
        },
        "connectors": [],
    }  # fmt: skip


@router.post(
    "/import", summary="Import event types, applications and endpoints (adds and updates)",
    dependencies=[requires(ADMIN_WRITE)],
)  # fmt: skip
async def import_(
    body: EnvironmentIn, ctx: Ctx, who: Who, secrets_key: SecretsKey = None
) -> Response:
    """One transaction; nothing is deleted. Answers how many resources were created and
    how many updated."""
    if body.connectors:
        raise ValidationError("hookline has no connectors to import", field=("connectors",))
    given = body.settings.hookline if body.settings is not None else None
    settings = given or HooklineSettingsIn()
    if settings.format != FORMAT:
        raise ValidationError(
            f"format {settings.format} is not one this server reads ({FORMAT})",
            field=("settings", "hookline", "format"),
        )
    now = ctx.clock()
    event_types = [
        EventType(
            name=e.name, description=e.description, archived=e.archived,
            deprecated=e.deprecated, schemas=e.schemas, feature_flags=e.flags,
            group_name=e.group_name, created_at=now, updated_at=now,
            transformations=e.transformations, enforce_schema=bool(e.enforce_schema),
        )
        for e in body.event_types
    ]  # fmt: skip
    applications = [
        Application(
            id=a.id, name=a.name, uid=a.uid, rate_limit=a.throttle_rate, metadata=a.metadata,
            created_at=now, updated_at=now,
        )
        for a in settings.applications
    ]  # fmt: skip
    endpoints = [
        ImportedEndpoint(
            id=e.id, app_id=a.id, draft=endpoint_draft(e, ctx), sealed_secret=e.sealed_secret,
            sealed_headers=e.sealed_headers,
        )
        for a in settings.applications
        for e in a.endpoints
    ]  # fmt: skip
    counts = await environment.import_environment(
        ctx.storage, ctx.event_types, who, ctx.settings.destination_policy, event_types,
        applications, endpoints, secrets_key, now,
    )  # fmt: skip
    return json_response(200, {"created": counts.created, "updated": counts.updated})
