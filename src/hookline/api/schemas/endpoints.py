"""Endpoints: where deliveries go, with hookline's delivery controls; their secrets,
headers, recovery and replays, and the operational webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    StringConstraints,
)

from hookline.api.schemas.common import (
    SECRET_PATTERN,
    Channel,
    Channels,
    Description,
    EventTypeNames,
    EventTypePatterns,
    Headers,
    JsonPath,
    Metadata,
    RateLimit,
    RequestModel,
    ResponseModel,
    RetrySchedule,
    Uid,
    UtcDatetime,
    Version,
)
from hookline.api.schemas.endpoint_auth import ClientTlsIn, EndpointAuthIn

_EVENT_TYPES = AliasChoices("eventTypes", "filterTypes", "event_types", "filter_types")
_THROTTLE = AliasChoices("throttleRate", "rateLimit", "throttle_rate", "rate_limit")


class BatchingIn(RequestModel):
    """Send up to ``maxSize`` events in one request, waiting at most ``maxWaitMs`` for them."""

    max_size: Annotated[int, Field(ge=1, le=1000)]
    max_wait_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 1000


class OrderingIn(RequestModel):
    """FIFO delivery: one order per endpoint, or one per value of ``key`` in the payload."""

    key: JsonPath | None = None


class CircuitBreakerIn(RequestModel):
    """Open the circuit when ``failureRate`` of at least ``minimumAttempts`` attempts within
    ``windowSeconds`` failed; probe after ``cooldownSeconds`` (doubling up to the max)."""

    failure_rate: Annotated[float, Field(gt=0, le=1)] = 0.5
    minimum_attempts: Annotated[int, Field(ge=1, le=100_000)] = 10
    window_seconds: Annotated[float, Field(ge=1, le=86400)] = 60
    cooldown_seconds: Annotated[float, Field(ge=0.1, le=86400)] = 30
    max_cooldown_seconds: Annotated[float, Field(ge=0.1, le=7 * 86400)] = 600


MaxInFlight = Annotated[int, Field(ge=1, le=1000)]


class _Controls(RequestModel):
    """hookline's delivery controls (all optional, validated on save)."""

    filter: dict[str, Any] | None = None
    transformation: dict[str, Any] | None = None
    batching: BatchingIn | None = None
    ordering: OrderingIn | None = None
    circuit_breaker: CircuitBreakerIn | None = None
    max_in_flight: MaxInFlight | None = None


class _EndpointFields(_Controls):
    description: Description = ""
    uid: Uid | None = None
    version: Version = 1
    disabled: bool = False
    event_types: EventTypePatterns | None = Field(None, validation_alias=_EVENT_TYPES)
    channels: Channels | None = None
    metadata: Metadata = Field(default_factory=dict)
    throttle_rate: RateLimit | None = Field(None, validation_alias=_THROTTLE)
    retry_schedule: RetrySchedule | None = None

    url: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    # hookline's credentials toward the endpoint (api/schemas/endpoint_auth.py).
    auth: EndpointAuthIn | None = None
    tls: ClientTlsIn | None = None


class EndpointIn(_EndpointFields):
    """Create an endpoint (POST)."""

    secret: Annotated[str, StringConstraints(pattern=SECRET_PATTERN)] | None = None
    headers: Headers = Field(default_factory=dict)


class EndpointUpdate(_EndpointFields):
    """Replace an endpoint (PUT)."""


class EndpointPatch(_Controls):
    """Change some fields of an endpoint; an explicit null clears a field."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=65536)] | None = None
    description: Description | None = None
    uid: Uid | None = None
    version: Version | None = None
    disabled: bool | None = None
    event_types: EventTypePatterns | None = Field(None, validation_alias=_EVENT_TYPES)
    channels: Channels | None = None
    metadata: Metadata | None = None
    throttle_rate: RateLimit | None = Field(None, validation_alias=_THROTTLE)
    retry_schedule: RetrySchedule | None = None
    auth: EndpointAuthIn | None = None
    tls: ClientTlsIn | None = None


class EndpointOut(ResponseModel):
    """An endpoint (its secret is read through its own route)."""

    id: str
    url: str
    description: str
    uid: str | None
    version: int
    disabled: bool
    event_types: list[str] | None
    filter_types: list[str] | None
    channels: list[str] | None
    metadata: dict[str, str]
    throttle_rate: int | None
    rate_limit: int | None
    retry_schedule: list[float] | None
    created_at: datetime
    updated_at: datetime
    # hookline's delivery controls, as set (null when not).
    filter: dict[str, Any] | None = None
    transformation: dict[str, Any] | None = None
    batching: BatchingIn | None = None
    ordering: OrderingIn | None = None
    circuit_breaker: CircuitBreakerIn | None = None
    max_in_flight: int | None = None
    paused: bool = False
    # hookline's credentials toward the endpoint, secrets masked (api/schemas/endpoint_auth.py).
    auth: EndpointAuthIn | None = None
    tls: ClientTlsIn | None = None


class CircuitOut(ResponseModel):
    """An endpoint's circuit breaker: ``closed``, ``open`` or ``half_open``."""

    state: str
    since: datetime | None
    next_probe_at: datetime | None
    cooldown_seconds: float | None
    window_attempts: int
    window_failures: int


class DeliveryStateOut(ResponseModel):
    """Where an endpoint's delivery controls stand now."""

    paused: bool
    circuit: CircuitOut
    throttle_rate: int | None
    #: The rate in force (lower than ``throttleRate`` while recovering from a 429).
    effective_rate: float | None
    throttled_at: datetime | None
    next_slot_at: datetime | None
    #: Deliveries parked by the pause or the open circuit; FIFO ones behind their head.
    waiting: int
    queued: int
    in_flight: int


class OperationalEndpointUpdate(RequestModel):
    """Replace an operational webhook endpoint (PUT)."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    description: Description = ""
    uid: Uid | None = None
    disabled: bool = False
    event_types: EventTypeNames | None = Field(None, validation_alias=_EVENT_TYPES)
    metadata: Metadata = Field(default_factory=dict)
    throttle_rate: RateLimit | None = Field(None, validation_alias=_THROTTLE)


class OperationalEndpointIn(OperationalEndpointUpdate):
    """Create an operational webhook endpoint: where hookline reports on itself."""

    secret: Annotated[str, StringConstraints(pattern=SECRET_PATTERN)] | None = None
    headers: Headers = Field(default_factory=dict)


class EndpointSecretOut(ResponseModel):
    """An endpoint's current signing secret."""

    key: str


class EndpointSecretRotateIn(RequestModel):
    """Rotate the secret: a given key or a new random one; the old one signs on for a while."""

    key: Annotated[str, StringConstraints(pattern=SECRET_PATTERN)] | None = None
    grace_period_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 86400


class EndpointHeadersIn(RequestModel):
    """Replace all custom headers."""

    headers: Headers


class EndpointHeadersPatchIn(RequestModel):
    """Merge headers in and remove some by name."""

    headers: Headers = Field(default_factory=dict)
    delete_headers: list[str] = Field(default_factory=list, max_length=32)


class EndpointHeadersOut(ResponseModel):
    """An endpoint's custom headers."""

    headers: dict[str, str]
    sensitive: list[str]


class RecoverIn(RequestModel):
    """Re-send the endpoint's failed messages created in [since, until)."""

    since: UtcDatetime
    until: UtcDatetime | None = None


class BulkReplayIn(RecoverIn):
    """Send again the endpoint's deliveries made in [since, until), by filter."""

    event_types: EventTypeNames | None = None
    channel: Channel | None = None
    status: int | None = None


class BackgroundTaskOut(ResponseModel):
    """A background task (recover runs as one)."""

    id: str
    status: str
    task: str
    data: dict[str, Any]
    updated_at: datetime


class EndpointStatsOut(ResponseModel):
    """Deliveries of the endpoint by state."""

    success: int
    pending: int
    sending: int
    fail: int
    canceled: int
