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
from hookline.domain.ingress import MAX_NETWORKS, MAX_RATE

MAX_DEDUP_WINDOW = 30 * 86400
VerifierKind = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=ID_PATTERN)]


class VerifierIn(RequestModel):
    """How a source checks what arrives: a verifier kind, its settings and its secrets."""

    type: VerifierKind
    config: Annotated[dict[str, Any], Field(max_length=32)] = Field(default_factory=dict)
    secrets: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]], Field(max_length=10)
    ] = Field(default_factory=list)


#: CIDRs a source's provider sends from (empty: anyone); checked by ``domain.ingress``.
Networks = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(max_length=MAX_NETWORKS, description="CIDRs the provider sends from; empty: anyone"),
]
SourceRate = Annotated[
    int, Field(ge=1, le=MAX_RATE, description="requests per second taken; more answer 429")
]


class SourceIn(RequestModel):
    """Create a source: where a provider's webhooks arrive and how they are checked."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    verifier: VerifierIn
    dedup_window_seconds: Annotated[float, Field(ge=0, le=MAX_DEDUP_WINDOW)] = 86400
    forward_headers: bool = True
    allowed_networks: Networks = Field(default_factory=list)
    rate_limit: SourceRate | None = None


class SourcePatch(RequestModel):
    """Change some fields of a source; ``verifier`` replaces the whole verifier."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    verifier: VerifierIn | None = None
    dedup_window_seconds: Annotated[float, Field(ge=0, le=MAX_DEDUP_WINDOW)] | None = None
    forward_headers: bool | None = None
    allowed_networks: Networks | None = None
    #: null removes the limit.
    rate_limit: SourceRate | None = None


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
    allowed_networks: list[str]
    rate_limit: int | None
    created_at: datetime
    updated_at: datetime
