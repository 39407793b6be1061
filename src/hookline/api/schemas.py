"""Request and response bodies of the management API, in Svix v1's wire shapes.

Field names are camelCase on the wire (docs/svix-compat.md is the reference).
Input models validate every value the server stores; an error names its field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.alias_generators import to_camel

from hookline.api.auth_schemas import ClientTlsIn, EndpointAuthIn
from hookline.errors import ValidationError

T = TypeVar("T")

ID_PATTERN = r"^[a-zA-Z0-9\-_.]+$"
CHANNEL_PATTERN = r"^[a-zA-Z0-9\-_.:]+$"
HEADER_NAME_PATTERN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
SECRET_PATTERN = r"^(whsec_)?[a-zA-Z0-9+/=]{32,100}$"

Uid = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ID_PATTERN)]
Channel = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=CHANNEL_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Description = Annotated[str, StringConstraints(max_length=4096)]
RateLimit = Annotated[int, Field(ge=1, le=65535)]
Version = Annotated[int, Field(ge=1, le=1000)]
#: Per-endpoint retry delays in seconds (at most 20 retries, each at most a week).
RetrySchedule = Annotated[list[Annotated[float, Field(ge=0, le=7 * 86400)]], Field(max_length=20)]

#: Headers a user may not set on deliveries: they carry the signature or are the transport's.
RESERVED_HEADERS = frozenset(
    {
        "content-type", "content-length", "host", "connection", "transfer-encoding",
        "webhook-id", "webhook-timestamp", "webhook-signature",
        "svix-id", "svix-timestamp", "svix-signature", "user-agent",
    }
)  # fmt: skip


def json_bytes(value: Any, field: str) -> bytes:
    """``value`` as JSON bytes; JSON that hookline cannot keep exactly is refused (422)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as error:
        # orjson keeps integers exact only within 64 bits; a bigger one would change.
        raise ValidationError(f"cannot be stored as JSON: {error}", field=(field,)) from None


def check_name(value: str, field: str) -> str:
    """Refuse a name or uid taken from a path that breaks the id rules."""
    if not 1 <= len(value) <= 256 or not re.fullmatch(ID_PATTERN, value):
        raise ValidationError(
            "must be 1-256 characters of letters, digits, '-', '_' or '.'", field=("path", field)
        )
    return value


def _unique(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


def _metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 64:
        raise ValueError("at most 64 metadata keys")
    for key, item in value.items():
        if not key or len(key) > 256 or len(item) > 4096:
            raise ValueError("metadata keys are 1-256 characters and values at most 4096")
    return value


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Custom delivery headers: valid names, no reserved names, bounded sizes."""
    if len(value) > 32:
        raise ValueError("at most 32 headers")
    for name, item in value.items():
        if not re.match(HEADER_NAME_PATTERN, name) or len(name) > 256:
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by hookline and cannot be overridden")
        if len(item) > 4096 or "\r" in item or "\n" in item:
            raise ValueError(f"header {name!r} has an invalid or oversized value")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_metadata)]
Headers = Annotated[dict[str, str], AfterValidator(check_headers)]
Channels = Annotated[list[Channel], Field(max_length=64), AfterValidator(_unique)]
EventTypeNames = Annotated[list[Name], Field(max_length=1024), AfterValidator(_unique)]
#: An endpoint's event types: names, or patterns where ``*`` stands for any characters.
EventTypePattern = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.*]+$")
]
EventTypePatterns = Annotated[
    list[EventTypePattern], Field(max_length=1024), AfterValidator(_unique)
]
#: A dotted path into a JSON payload (``data.customer.id``).
JsonPath = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^.\s]+(\.[^.\s]+)*$")
]
FeatureFlags = Annotated[list[Name], Field(max_length=16), AfterValidator(_unique)]


def _as_utc(value: datetime) -> datetime:
    # The Svix SDK sends naive datetimes without an offset: they mean UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _In(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", str_strip_whitespace=False
    )


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# Applications ----------------------------------------------------------------


class ApplicationIn(_In):
    """Create (POST) or replace (PUT) an application."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    throttle_rate: RateLimit | None = Field(
        None, validation_alias=AliasChoices("throttleRate", "rateLimit", "throttle_rate")
    )
    metadata: Metadata = Field(default_factory=dict)


class ApplicationPatch(_In):
    """Change some fields of an application; an explicit null clears a field."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    throttle_rate: RateLimit | None = Field(
        None, validation_alias=AliasChoices("throttleRate", "rateLimit", "throttle_rate")
    )
    metadata: Metadata | None = None


class ApplicationOut(_Out):
    """An application."""

    id: str
    name: str
    uid: str | None
    throttle_rate: int | None
    rate_limit: int | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime


# Event types -------------------------------------------------------------------


class _EventTypeFields(_In):
    schemas: dict[str, Any] | None = None
    #: hookline: version -> transformation turning a latest-version payload into its shape.
    transformations: dict[str, dict[str, Any]] | None = None
    enforce_schema: bool | None = None
    feature_flags: FeatureFlags | None = None
    feature_flag: Name | None = None  # the singular form older Svix SDKs send
    group_name: Name | None = None

    @field_validator("schemas")
    @classmethod
    def _versions_are_objects(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for version, schema in (value or {}).items():
            if not isinstance(schema, dict):
                raise ValueError(f"schema of version {version!r} must be a JSON object")
        return value

    @property
    def flags(self) -> tuple[str, ...] | None:
        """The feature flags, from ``featureFlags`` or else the legacy singular ``featureFlag``."""
        if self.feature_flags is not None:
            return tuple(self.feature_flags) or None
        return (self.feature_flag,) if self.feature_flag else None

    @property
    def flag_given(self) -> bool:
        """Whether the body says anything about the feature flag (PATCH leaves it otherwise)."""
        return bool({"feature_flags", "feature_flag"} & self.model_fields_set)


class EventTypeIn(_EventTypeFields):
    """Create an event type."""

    name: Name
    description: Description = ""
    archived: bool = False
    deprecated: bool = False


class EventTypeUpdate(_EventTypeFields):
    """Replace an event type (PUT); the name comes from the path."""

    description: Description = ""
    archived: bool = False
    deprecated: bool = False


class EventTypePatch(_EventTypeFields):
    """Change some fields of an event type."""

    description: Description | None = None
    archived: bool | None = None
    deprecated: bool | None = None


class EventTypeOut(_Out):
    """An event type."""

    name: str
    description: str
    archived: bool
    deprecated: bool
    schemas: dict[str, Any] | None
    feature_flag: str | None
    feature_flags: list[str] | None
    group_name: str | None
    created_at: datetime
    updated_at: datetime
    #: hookline: a transformation per older version, and whether publishing validates.
    transformations: dict[str, Any] | None = None
    enforce_schema: bool = False


# Endpoints -------------------------------------------------------------------------

_EVENT_TYPES = AliasChoices("eventTypes", "filterTypes", "event_types", "filter_types")
_THROTTLE = AliasChoices("throttleRate", "rateLimit", "throttle_rate", "rate_limit")


class BatchingIn(_In):
    """Send up to ``maxSize`` events in one request, waiting at most ``maxWaitMs`` for them."""

    max_size: Annotated[int, Field(ge=1, le=1000)]
    max_wait_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 1000


class OrderingIn(_In):
    """FIFO delivery: one order per endpoint, or one per value of ``key`` in the payload."""

    key: JsonPath | None = None


class CircuitBreakerIn(_In):
    """Open the circuit when ``failureRate`` of at least ``minimumAttempts`` attempts within
    ``windowSeconds`` failed; probe after ``cooldownSeconds`` (doubling up to the max)."""

    failure_rate: Annotated[float, Field(gt=0, le=1)] = 0.5
    minimum_attempts: Annotated[int, Field(ge=1, le=100_000)] = 10
    window_seconds: Annotated[float, Field(ge=1, le=86400)] = 60
    cooldown_seconds: Annotated[float, Field(ge=0.1, le=86400)] = 30
    max_cooldown_seconds: Annotated[float, Field(ge=0.1, le=7 * 86400)] = 600


MaxInFlight = Annotated[int, Field(ge=1, le=1000)]


class _Controls(_In):
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
    # hookline's credentials toward the endpoint (api/auth_schemas.py).
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


class EndpointOut(_Out):
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
    # hookline's credentials toward the endpoint, secrets masked (api/auth_schemas.py).
    auth: EndpointAuthIn | None = None
    tls: ClientTlsIn | None = None


class CircuitOut(_Out):
    """An endpoint's circuit breaker: ``closed``, ``open`` or ``half_open``."""

    state: str
    since: datetime | None
    next_probe_at: datetime | None
    cooldown_seconds: float | None
    window_attempts: int
    window_failures: int


class DeliveryStateOut(_Out):
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


class OperationalEndpointUpdate(_In):
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


class EndpointSecretOut(_Out):
    """An endpoint's current signing secret."""

    key: str


class EndpointSecretRotateIn(_In):
    """Rotate the secret: a given key or a new random one; the old one signs on for a while."""

    key: Annotated[str, StringConstraints(pattern=SECRET_PATTERN)] | None = None
    grace_period_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 86400


class EndpointHeadersIn(_In):
    """Replace all custom headers."""

    headers: Headers


class EndpointHeadersPatchIn(_In):
    """Merge headers in and remove some by name."""

    headers: Headers = Field(default_factory=dict)
    delete_headers: list[str] = Field(default_factory=list, max_length=32)


class EndpointHeadersOut(_Out):
    """An endpoint's custom headers."""

    headers: dict[str, str]
    sensitive: list[str]


class RecoverIn(_In):
    """Re-send the endpoint's failed messages created in [since, until)."""

    since: UtcDatetime
    until: UtcDatetime | None = None


class BulkReplayIn(RecoverIn):
    """Send again the endpoint's deliveries made in [since, until), by filter."""

    event_types: EventTypeNames | None = None
    channel: Channel | None = None
    status: int | None = None


class BackgroundTaskOut(_Out):
    """A background task (recover runs as one)."""

    id: str
    status: str
    task: str
    data: dict[str, Any]
    updated_at: datetime


class EndpointStatsOut(_Out):
    """Deliveries of the endpoint by state."""

    success: int
    pending: int
    sending: int
    fail: int
    canceled: int


# Messages -------------------------------------------------------------------------


Priority = Literal["high", "normal", "low"]


class MessageIn(_In):
    """Publish an event (``priority`` is hookline's: under a backlog, high goes first)."""

    event_type: Name
    payload: dict[str, Any]
    event_id: Uid | None = None
    channels: Annotated[list[Channel], Field(max_length=10), AfterValidator(_unique)] | None = None
    tags: Annotated[list[Tag], Field(max_length=5), AfterValidator(_unique)] | None = None
    application: ApplicationIn | None = None
    payload_retention_period: Annotated[int, Field(ge=1, le=90)] | None = None
    priority: Priority = "normal"


class MessageOut(_Out):
    """A published message; ``payload`` is ``{}`` unless asked for with ``with_content``."""

    id: str
    event_type: str
    event_id: str | None
    payload: dict[str, Any]
    channels: list[str] | None
    tags: list[str] | None
    timestamp: datetime
    priority: Priority = "normal"


class RoutingPreviewIn(_In):
    """A message to route without publishing it (``headers``: as an inbound event's)."""

    event_type: Name
    payload: dict[str, Any]
    channels: Annotated[list[Channel], Field(max_length=10)] | None = None
    headers: dict[str, str] | None = None


class RoutedEndpointOut(_Out):
    """One endpoint's verdict: whether it would get a delivery, and if not, why not."""

    endpoint_id: str
    uid: str | None
    url: str
    matched: bool
    reason: str | None


class RoutingPreviewOut(_Out):
    """Which endpoints would receive the message, and why not the others."""

    data: list[RoutedEndpointOut]


class TransformationDryRunIn(_In):
    """A transformation to try on a payload (nothing is saved or sent)."""

    transformation: dict[str, Any]
    payload: dict[str, Any]


class TransformationDryRunOut(_Out):
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


class MessageAttemptOut(_Out):
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


class EmptyOut(_Out):
    """An empty JSON object: Svix's answer where nothing more is to be said."""


# Inbound sources ----------------------------------------------------------------------

#: Longest window over which a provider's event id is remembered (30 days).
MAX_DEDUP_WINDOW = 30 * 86400
VerifierKind = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=ID_PATTERN)]


class VerifierIn(_In):
    """How a source checks what arrives: a verifier kind, its settings and its secrets."""

    type: VerifierKind
    config: Annotated[dict[str, Any], Field(max_length=32)] = Field(default_factory=dict)
    secrets: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]], Field(max_length=10)
    ] = Field(default_factory=list)


class SourceIn(_In):
    """Create a source: where a provider's webhooks arrive and how they are checked."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    verifier: VerifierIn
    dedup_window_seconds: Annotated[float, Field(ge=0, le=MAX_DEDUP_WINDOW)] = 86400
    forward_headers: bool = True


class SourcePatch(_In):
    """Change some fields of a source; ``verifier`` replaces the whole verifier."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    verifier: VerifierIn | None = None
    dedup_window_seconds: Annotated[float, Field(ge=0, le=MAX_DEDUP_WINDOW)] | None = None
    forward_headers: bool | None = None


class VerifierOut(_Out):
    """A source's verifier as shown: its secrets are never returned, only counted."""

    type: str
    config: dict[str, Any]
    secret_count: int


class SourceOut(_Out):
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


# Access: portal links, tokens, the audit trail ----------------------------------------

#: Svix's bounds on an app-portal token's life: one hour to seven days (the default).
PORTAL_EXPIRY_MIN = 3600
PORTAL_EXPIRY_MAX = 7 * 86400
TokenName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AppPortalAccessIn(_In):
    """Ask for a link (and token) to one application's customer portal."""

    application: ApplicationIn | None = None
    read_only: bool | None = None
    capabilities: Annotated[list[Name], Field(max_length=16)] | None = None
    feature_flags: FeatureFlags | None = None
    expiry: Annotated[int, Field(ge=PORTAL_EXPIRY_MIN, le=PORTAL_EXPIRY_MAX)] | None = None
    session_id: SessionId | None = None


class AppPortalAccessOut(_Out):
    """The portal link and the application-scoped token inside it."""

    url: str
    token: str


class ApplicationTokenExpireIn(_In):
    """Expire an application's tokens, all of them or those of some sessions."""

    expiry: Annotated[int, Field(ge=0, le=PORTAL_EXPIRY_MAX)] | None = None
    session_ids: Annotated[list[SessionId], Field(max_length=100)] | None = None


class ApiTokenIn(_In):
    """Create an API token: admin (no ``appId``) or scoped to one application."""

    name: TokenName
    app_id: Uid | None = None
    read_only: bool = False
    expiry: Annotated[int, Field(ge=60, le=10 * 365 * 86400)] | None = None


class ApiTokenOut(_Out):
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


class AuditEntryOut(_Out):
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


#: The extra answer of a PUT that creates what it did not find (Svix's update-or-create).
CREATED_BY_PUT: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created: nothing had this id or uid yet"}
}


# Pagination ----------------------------------------------------------------------


class ListResponse(_Out, Generic[T]):
    """A page of a list and the cursors to move through it."""

    data: list[T]
    iterator: str | None
    prev_iterator: str | None
    done: bool


def utc(timestamp: float) -> datetime:
    """A stored time (epoch seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)
