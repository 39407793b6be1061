"""Wire models of the destination and message poller API, in the svix SDK's shapes
(``DestinationIn`` / ``DestinationOut`` / ``DestinationPatch``, ``PollingEndpointOut``...),
and the conversions of stored destinations and messages into them.

``type`` is a plain string here, not the SDK's list of literals, so that an unknown or
unavailable type reaches ``domain.destinations.check_kind`` and is answered with a 422
that says why; ``config`` is checked there too, per kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from hookline.api.schemas import Channels, EventTypePatterns, Metadata, Uid, UtcDatetime, utc
from hookline.domain import destinations
from hookline.domain.models import Endpoint, Message
from hookline.storage.records import DestinationHealth
from hookline.usecases.destinations import start_of, status_of

Kind = Annotated[str, StringConstraints(min_length=1, max_length=64)]
BatchSize = Annotated[int, Field(ge=1, le=1000)]
MaxWaitSecs = Annotated[int, Field(ge=0, le=3600)]


class _In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DestinationIn(_In):
    """Create (POST) or replace (PUT) a destination."""

    type: Kind
    config: dict[str, Any] = Field(default_factory=dict)
    uid: Uid | None = None
    status: Literal["enabled", "disabled"] | None = None
    batch_size: BatchSize | None = None
    max_wait_secs: MaxWaitSecs | None = None
    event_types: EventTypePatterns | None = None
    channels: Channels | None = None
    metadata: Metadata = Field(default_factory=dict)


class DestinationPatch(_In):
    """Change some fields of a destination. A ``config`` of the destination's own type is
    merged over the stored one, key by key; of another ``type`` it replaces it."""

    type: Kind | None = None
    config: dict[str, Any] | None = None
    uid: Uid | None = None
    status: Literal["enabled", "disabled"] | None = None
    batch_size: BatchSize | None = None
    max_wait_secs: MaxWaitSecs | None = None
    event_types: EventTypePatterns | None = None
    channels: Channels | None = None
    metadata: Metadata | None = None


class DestinationOut(_Out):
    """A destination; its passwords and tokens are never shown."""

    id: str
    uid: str | None
    type: str
    config: dict[str, Any]
    status: Literal["enabled", "paused", "disabled", "retrying"]
    current_iterator: str
    failure_reason: str | None = None
    next_retry_at: datetime | None = None
    batch_size: int
    max_wait_secs: int
    event_types: list[str] | None
    channels: list[str] | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime


class DestinationSecretRotateOut(_Out):
    """The destination's new signing secret."""

    key: str


class DestinationTransformIn(_In):
    """Set (a transformation document as JSON text) or remove (null) the transformation."""

    code: Annotated[str, StringConstraints(max_length=65536)] | None = None


class DestinationTransformationOut(_Out):
    """The destination's transformation document as JSON text, and whether it has one."""

    code: str | None
    enabled: bool


class PollingEndpointMessageOut(_Out):
    """A message as a poller reads it."""

    id: str
    event_type: str
    event_id: str | None
    payload: dict[str, Any]
    channels: list[str] | None
    tags: list[str] | None
    headers: dict[str, str] | None = None
    timestamp: datetime
    deliver_at: datetime | None = None


class PollingEndpointOut(_Out):
    """A page of a poller's messages: the iterator to read on from, and whether the
    read reached the newest message."""

    data: list[PollingEndpointMessageOut]
    iterator: str
    done: bool


class PollingEndpointConsumerSeekIn(_In):
    """Where to move a consumer: its next read returns the messages made after ``after``."""

    after: UtcDatetime


class PollingEndpointConsumerSeekOut(_Out):
    """The consumer's new iterator."""

    iterator: str


def _status(endpoint: Endpoint) -> Literal["enabled", "paused", "disabled", "retrying"]:
    return cast(Literal["enabled", "paused", "disabled", "retrying"], status_of(endpoint))


def shown_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A configuration as the SDK's ``*ConfigOut`` models read it, secrets masked."""
    shown = destinations.masked_config(kind, config)
    if kind == destinations.FIFO:
        # SinkHttpConfigOut: the header values are all held sensitive, so none is shown.
        names = sorted(config.get("headers") or {})
        shown["headers"] = {"headers": {}, "sensitive": names}
    return shown


def destination_out(endpoint: Endpoint, health: DestinationHealth | None = None) -> DestinationOut:
    """A stored destination in the SDK's ``DestinationOut`` shape, with its failure
    reason and next retry time from ``health`` (``Pollers.destination_health``)."""
    health = health or DestinationHealth()
    retry = health.next_retry_at
    destination = endpoint.destination
    assert destination is not None
    batching = endpoint.controls.batching
    polling = destination.kind == destinations.POLLING
    return DestinationOut(
        id=endpoint.id, uid=endpoint.uid, type=destination.kind,
        config=shown_config(destination.kind, dict(destination.config)),
        status=_status(endpoint), current_iterator=start_of(endpoint) if polling else "",
        failure_reason=health.failure_reason,
        next_retry_at=None if retry is None else utc(retry),
        batch_size=batching.max_size if batching else 1,
        max_wait_secs=int(batching.max_wait) if batching else 0,
        event_types=list(endpoint.filter_types) if endpoint.filter_types is not None else None,
        channels=list(endpoint.channels) if endpoint.channels is not None else None,
        metadata=endpoint.metadata, created_at=utc(endpoint.created_at),
        updated_at=utc(endpoint.updated_at),
    )  # fmt: skip


def _payload(message: Message) -> dict[str, Any]:
    try:
        value = orjson.loads(message.payload)
    except orjson.JSONDecodeError:
        # An expunged payload (retention) is empty; a received form body is text.
        text = message.payload.decode("utf-8", errors="replace")
        return {"body": text} if text else {}
    return value if isinstance(value, dict) else {"payload": value}


def polled_message_out(message: Message) -> PollingEndpointMessageOut:
    """A message as a poller reads it, with its payload."""
    return PollingEndpointMessageOut(
        id=message.id, event_type=message.event_type, event_id=message.event_id,
        payload=_payload(message),
        channels=list(message.channels) if message.channels is not None else None,
        tags=list(message.tags) if message.tags is not None else None,
        headers=message.headers, timestamp=utc(message.created_at),
    )  # fmt: skip
