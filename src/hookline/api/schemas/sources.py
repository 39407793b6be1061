"""Inbound sources: where a provider's webhooks arrive and how they are verified."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    Field,
    StringConstraints,
)

from hookline.api.schemas.common import (
    ID_PATTERN,
    RequestModel,
    ResponseModel,
    Uid,
)

MAX_DEDUP_WINDOW = 30 * 86400
VerifierKind = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=ID_PATTERN)]


class VerifierIn(RequestModel):
    """How a source checks what arrives: a verifier kind, its settings and its secrets."""

    type: VerifierKind
    config: Annotated[dict[str, Any], Field(max_length=32)] = Field(default_factory=dict)
    secrets: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]], Field(max_length=10)
    ] = Field(default_factory=list)


class SourceIn(RequestModel):
    """Create a source: where a provider's webhooks arrive and how they are checked."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    verifier: VerifierIn
    dedup_window_seconds: Annotated[float, Field(ge=0, le=MAX_DEDUP_WINDOW)] = 86400
    forward_headers: bool = True


class SourcePatch(RequestModel):
    """Change some fields of a source; ``verifier`` replaces the whole verifier."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    verifier: VerifierIn | None = None
    dedup_window_seconds: Annotated[float, Field(ge=0, le=MAX_DEDUP_WINDOW)] | None = None
    forward_headers: bool | None = None


class VerifierOut(ResponseModel):
    """A source's verifier as shown: its secrets are never returned, only counted."""

    type: str
    config: dict[str, Any]
    secret_count: int


class SourceOut(ResponseModel):
    """A source and the URL providers post to."""

    id: str
    uid: str | None
    name: str
    ingest_url: str
    verifier: VerifierOut
    dedup_window_seconds: float
    forward_headers: bool
    created_at: datetime
    updated_at: datetime
