"""Wire models of Svix's environment export and import (see docs/environment.md).

Svix's ``EnvironmentIn``/``EnvironmentOut`` hold event types, ``settings`` (free-form)
and connectors, and its SDKs drop any other key; so hookline carries its applications
and endpoints inside ``settings.hookline``, which every SDK passes through untouched.
Documents are read leniently (unknown keys ignored): an export holds the output
fields (ids, times) that the input models do not take.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from hookline.api.schemas import ApplicationIn, EndpointIn, EventTypeIn
from hookline.api.schemas.common import RequestModel

#: The version of hookline's part of the document (``settings.hookline.format``).
FORMAT = 1
#: The most of each kind of resource one document may hold.
MAX_ITEMS = 10_000

_LENIENT = ConfigDict(extra="ignore")
AppId = Annotated[str, StringConstraints(pattern=r"^app_[0-9A-Za-z]{1,64}$")]
EndpointId = Annotated[str, StringConstraints(pattern=r"^ep_[0-9A-Za-z]{1,64}$")]
Sealed = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


class EnvironmentEventTypeIn(EventTypeIn):
    """An event type of a document."""

    model_config = _LENIENT


class EnvironmentEndpointIn(EndpointIn):
    """An endpoint of a document; its secret and headers only sealed (``sealedSecret``,
    ``sealedHeaders``), and only when the export was asked for them."""

    model_config = _LENIENT
    id: EndpointId
    sealed_secret: Sealed | None = None
    sealed_headers: Sealed | None = None


class EnvironmentApplicationIn(ApplicationIn):
    """An application of a document, with its endpoints."""

    model_config = _LENIENT
    id: AppId
    endpoints: Annotated[list[EnvironmentEndpointIn], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )


class HooklineSettingsIn(RequestModel):
    """``settings.hookline``: what Svix's document has no place for."""

    model_config = _LENIENT
    format: int = FORMAT
    secrets_key_id: str | None = None
    applications: Annotated[list[EnvironmentApplicationIn], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )


class EnvironmentSettingsIn(RequestModel):
    """Svix's free-form settings: hookline reads its own part, and no other."""

    model_config = _LENIENT
    hookline: HooklineSettingsIn | None = None


class EnvironmentIn(RequestModel):
    """A document to import: Svix's ``EnvironmentIn``."""

    model_config = _LENIENT
    event_types: Annotated[list[EnvironmentEventTypeIn], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )
    settings: EnvironmentSettingsIn | None = None
    connectors: list[dict[str, Any]] | None = None
