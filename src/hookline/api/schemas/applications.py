"""Applications: one per customer (Svix's ``/app``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AliasChoices,
    Field,
    StringConstraints,
)

from hookline.api.schemas.common import (
    Metadata,
    RateLimit,
    RequestModel,
    ResponseModel,
    Uid,
)


class ApplicationIn(RequestModel):
    """Create (POST) or replace (PUT) an application."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    throttle_rate: RateLimit | None = Field(
        None, validation_alias=AliasChoices("throttleRate", "rateLimit", "throttle_rate")
    )
    metadata: Metadata = Field(default_factory=dict)


class ApplicationPatch(RequestModel):
    """Change some fields of an application; an explicit null clears a field."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    throttle_rate: RateLimit | None = Field(
        None, validation_alias=AliasChoices("throttleRate", "rateLimit", "throttle_rate")
    )
    metadata: Metadata | None = None


class ApplicationOut(ResponseModel):
    """An application."""

    id: str
    name: str
    uid: str | None
    throttle_rate: int | None
    rate_limit: int | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
