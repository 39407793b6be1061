"""Messages, what one endpoint sees of them, their attempts, and routing dry runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
)

from hookline.api.schemas.applications import ApplicationIn
from hookline.api.schemas.common import (
    Channel,
    Name,
    RequestModel,
    ResponseModel,
    Tag,
    Uid,
    unique_items,
)

Priority = Literal["high", "normal", "low"]


class MessageIn(RequestModel):
    """Publish an event (``priority`` is hookline's: under a backlog, high goes first)."""

    event_type: Name
    payload: dict[str, Any]
    event_id: Uid | None = None
    channels: (
        Annotated[list[Channel], Field(max_length=10), AfterValidator(unique_items)] | None
    ) = None
    tags: Annotated[list[Tag], Field(max_length=5), AfterValidator(unique_items)] | None = None
    application: ApplicationIn | None = None
    payload_retention_period: Annotated[int, Field(ge=1, le=90)] | None = None
    priority: Priority = "normal"


class MessageOut(ResponseModel):
    """A published message; ``payload`` is ``{}`` unless asked for with ``with_content``."""

    id: str
    event_type: str
    event_id: str | None
    payload: dict[str, Any]
    channels: list[str] | None
    tags: list[str] | None
    timestamp: datetime
    priority: Priority = "normal"


class RoutingPreviewIn(RequestModel):
    """A message to route without publishing it (``headers``: as an inbound event's)."""

    event_type: Name
    payload: dict[str, Any]
    channels: Annotated[list[Channel], Field(max_length=10)] | None = None
    headers: dict[str, str] | None = None


class RoutedEndpointOut(ResponseModel):
    """One endpoint's verdict: whether it would get a delivery, and if not, why not."""

    endpoint_id: str
    uid: str | None
    url: str
    matched: bool
    reason: str | None


class RoutingPreviewOut(ResponseModel):
    """Which endpoints would receive the message, and why not the others."""

    data: list[RoutedEndpointOut]


class TransformationDryRunIn(RequestModel):
    """A transformation to try on a payload (nothing is saved or sent)."""

    transformation: dict[str, Any]
    payload: dict[str, Any]


class TransformationDryRunOut(ResponseModel):
    """What the endpoint would receive."""

    payload: Any
    headers: dict[str, str]
    size_bytes: int


class EndpointMessageOut(MessageOut):
    """A message as one endpoint sees it: its delivery's status and next attempt."""

    status: int
    status_text: str
    next_attempt: datetime | None


# Attempts -------------------------------------------------------------------------


class MessageAttemptOut(ResponseModel):
    """One attempt of a delivery and what the endpoint answered."""

    id: str
    msg_id: str
    endpoint_id: str
    url: str
    response: str
    response_status_code: int
    response_duration_ms: int
    response_headers: dict[str, str]
    error_class: str | None
    status: int
    status_text: str
    trigger_type: int
    timestamp: datetime
    msg: MessageOut | None = None
