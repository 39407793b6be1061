"""Wire models of Svix's remaining operations: examples, attempt figures, destinations,
expunging, precheck, usage tasks and the OpenAPI import (docs/svix-compat.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from hookline.api.schemas import (
    BackgroundTaskOut,
    Channel,
    EndpointOut,
    Name,
    UtcDatetime,
)
from hookline.api.schemas.common import RequestModel, ResponseModel

#: A message's id or eventId, or an application's id or uid, as a body names it.
Key = Annotated[str, StringConstraints(min_length=1, max_length=256)]
#: The most keys one bulk request may name.
MAX_KEYS = 1000
#: The largest OpenAPI document accepted as text (``specRaw``).
MAX_SPEC_CHARS = 4 * 1024 * 1024


class EventExampleIn(RequestModel):
    """Send an endpoint an example event of a type (Svix's send-example)."""

    event_type: Name
    example_index: Annotated[int, Field(ge=0, le=1000)] = 0
    payload: dict[str, Any] | None = None


class EndpointAttemptStatsOut(ResponseModel):
    """An endpoint's attempts in a window, by outcome."""

    success: int
    fail: int
    canceled: int


class MessageEndpointOut(EndpointOut):
    """An endpoint a message was sent to, with its delivery's status."""

    status: int
    status_text: str
    next_attempt: datetime | None


class BulkExpungeContentsIn(RequestModel):
    """The messages (ids or eventIds) whose payloads to remove."""

    ids: Annotated[list[Key], Field(min_length=1, max_length=MAX_KEYS)]


class BulkExpungeContentsOut(ResponseModel):
    """For each key given: ``expunged``, or ``not-found``."""

    results: dict[str, Literal["expunged", "not-found"]]


class MessagePrecheckIn(RequestModel):
    """A message that might be sent: its event type and channels."""

    event_type: Name
    channels: Annotated[list[Channel], Field(max_length=10)] | None = None


class MessagePrecheckOut(ResponseModel):
    """Whether any enabled endpoint would get such a message."""

    active: bool


class AppUsageStatsIn(RequestModel):
    """Count the message destinations of [since, until), of every application or those named."""

    since: UtcDatetime
    until: UtcDatetime
    app_ids: Annotated[list[Key], Field(max_length=MAX_KEYS)] | None = None


class AppUsageStatsOut(BackgroundTaskOut):
    """The running ``application.stats`` task, and the keys that named no application."""

    unresolved_app_ids: list[str]


class EventTypeImportOpenApiIn(RequestModel):
    """An OpenAPI document whose webhooks become event types: ``spec`` (JSON) or
    ``specRaw`` (YAML or JSON text), exactly one of them."""

    dry_run: bool = False
    replace_all: bool = False
    spec: dict[str, Any] | None = None
    spec_raw: Annotated[str, StringConstraints(max_length=MAX_SPEC_CHARS)] | None = None

    @model_validator(mode="after")
    def _one_spec(self) -> EventTypeImportOpenApiIn:
        if (self.spec is None) == (self.spec_raw is None):
            raise ValueError("give the OpenAPI document as exactly one of spec and specRaw")
        return self


class EventTypeFromOpenApiOut(ResponseModel):
    """An event type as the document describes it."""

    name: str
    description: str
    schemas: dict[str, Any] | None
    deprecated: bool
    group_name: str | None
    feature_flags: list[str] | None


class EventTypeImportOpenApiData(ResponseModel):
    """The names changed (or that would be, on a dry run) and, on a dry run, the types."""

    modified: list[str]
    to_modify: list[EventTypeFromOpenApiOut] | None = Field(None, alias="to_modify")


class EventTypeImportOpenApiOut(ResponseModel):
    """What an OpenAPI import did."""

    data: EventTypeImportOpenApiData
