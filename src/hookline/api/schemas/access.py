"""Access: portal links, API tokens and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    Field,
    StringConstraints,
)

from hookline.api.schemas.applications import ApplicationIn
from hookline.api.schemas.common import (
    FeatureFlags,
    Name,
    RequestModel,
    ResponseModel,
    Uid,
)

PORTAL_EXPIRY_MIN = 3600
PORTAL_EXPIRY_MAX = 7 * 86400
TokenName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AppPortalAccessIn(RequestModel):
    """Ask for a link (and token) to one application's customer portal."""

    application: ApplicationIn | None = None
    read_only: bool | None = None
    capabilities: Annotated[list[Name], Field(max_length=16)] | None = None
    feature_flags: FeatureFlags | None = None
    expiry: Annotated[int, Field(ge=PORTAL_EXPIRY_MIN, le=PORTAL_EXPIRY_MAX)] | None = None
    session_id: SessionId | None = None


class AppPortalAccessOut(ResponseModel):
    """The portal link and the application-scoped token inside it."""

    url: str
    token: str


class ApplicationTokenExpireIn(RequestModel):
    """Expire an application's tokens, all of them or those of some sessions."""

    expiry: Annotated[int, Field(ge=0, le=PORTAL_EXPIRY_MAX)] | None = None
    session_ids: Annotated[list[SessionId], Field(max_length=100)] | None = None


class ApiTokenIn(RequestModel):
    """Create an API token: admin (no ``appId``) or scoped to one application."""

    name: TokenName
    app_id: Uid | None = None
    read_only: bool = False
    expiry: Annotated[int, Field(ge=60, le=10 * 365 * 86400)] | None = None


class ApiTokenOut(ResponseModel):
    """A token as lists show it: never the token itself, only its first characters."""

    id: str
    name: str
    prefix: str
    app_id: str | None
    read_only: bool
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreatedOut(ApiTokenOut):
    """A new token: the one answer that carries ``token``; store it now."""

    token: str


class AuditEntryOut(ResponseModel):
    """One change: who (token id), what, when, and the record before and after."""

    id: str
    app_id: str | None
    actor: str
    action: str
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    timestamp: datetime
