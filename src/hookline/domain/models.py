"""The records hookline keeps, as plain immutable values.

Times are seconds since the Unix epoch (floats, UTC); the API converts them to
ISO 8601 at its edge. Payloads are the exact JSON bytes that get signed and sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from hookline.domain.controls import NO_CONTROLS, NORMAL_PRIORITY, Controls
from hookline.domain.destinations import Destination
from hookline.domain.endpoint_auth import EndpointAuth

JSONObject = dict[str, Any]
T = TypeVar("T")


class DeliveryStatus(enum.StrEnum):
    """Where one (message, endpoint) delivery stands."""

    PENDING = "pending"  # queued: due at next_attempt_at (or leased by a worker)
    SUCCESS = "success"  # a 2xx was received
    FAILED = "failed"  # retries exhausted, 410, or given up: listed as dead-letter
    HELD = "held"  # the endpoint was disabled: recorded, waiting for a recover
    WAITING = "waiting"  # the endpoint is paused or its circuit open: goes out when it is not
    QUEUED = "queued"  # FIFO: behind an earlier event of its ordering key


class AttemptStatus(enum.IntEnum):
    """Svix's MessageStatus numbers, used for attempts and deliveries in the API."""

    SUCCESS = 0
    PENDING = 1
    FAIL = 2
    SENDING = 3


class TriggerType(enum.IntEnum):
    """Why an attempt was made (Svix's MessageAttemptTriggerType)."""

    SCHEDULED = 0
    MANUAL = 1


@dataclass(frozen=True, slots=True)
class Application:
    """A tenant: usually one of the operator's customers."""

    id: str
    name: str
    uid: str | None = None
    rate_limit: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class EventType:
    """A named kind of event, with a JSON Schema per version.

    Payloads are published in the latest version (the highest key of ``schemas``);
    ``transformations`` turn them into an older version's shape for endpoints pinned
    to it, and ``enforce_schema`` makes publishing validate them.
    """

    name: str
    description: str = ""
    archived: bool = False
    deprecated: bool = False
    schemas: JSONObject | None = None
    feature_flags: tuple[str, ...] | None = None
    group_name: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    transformations: dict[str, JSONObject] | None = None
    enforce_schema: bool = False

    @property
    def latest_version(self) -> int | None:
        """The highest version with a schema (None without schemas)."""
        versions = [int(v) for v in (self.schemas or {}) if str(v).isdigit()]
        return max(versions) if versions else None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An endpoint secret; ``expires_at`` is set on old secrets kept during a rotation."""

    secret: str
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL of an application's that receives the events it subscribes to."""

    id: str
    app_id: str
    url: str
    secret: str
    uid: str | None = None
    description: str = ""
    version: int = 1
    disabled: bool = False
    filter_types: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    rate_limit: int | None = None
    retry_schedule: tuple[float, ...] | None = None
    old_secrets: tuple[SigningKey, ...] = ()
    failing_since: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    controls: Controls = NO_CONTROLS
    paused: bool = False
    #: How hookline authenticates to the endpoint (Authorization, TLS identity); None: only
    #: the signature.
    auth: EndpointAuth | None = None
    #: Not an HTTP endpoint: a broker, a database or a poller (its configuration unsealed).
    destination: Destination | None = None

    def signing_secrets(self, now: float) -> list[str]:
        """The current secret first, then old ones still inside their grace period."""
        kept = [
            key.secret for key in self.old_secrets if key.expires_at is None or key.expires_at > now
        ]
        return [self.secret, *kept]


@dataclass(frozen=True, slots=True)
class Source:
    """Where one provider's webhooks arrive (``/in/<token>``), and how they are checked.

    ``verifier`` names a kind of ``domain.verifiers`` with its ``config``; ``secrets``
    are all accepted (several during a provider's rotation). Each received event
    becomes a message of ``app_id``, so it reaches that application's endpoints.
    """

    id: str
    app_id: str
    name: str
    token: str
    verifier: str
    config: JSONObject = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    dedup_window: float = 86400.0
    forward_headers: bool = True
    uid: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    #: CIDRs the provider may send from (``domain.ingress``); empty: from anywhere.
    allowed_networks: tuple[str, ...] = ()
    #: Requests per second the gateway takes for this source; None: no limit.
    rate_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A published event; ``payload`` holds the exact bytes that are signed and sent."""

    id: str
    app_id: str
    event_type: str
    payload: bytes
    event_id: str | None = None
    channels: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    created_at: float = 0.0
    #: For a received (inbound) message: the headers it arrived with, and its source.
    headers: dict[str, str] | None = None
    source_id: str | None = None
    #: 0 high, 1 normal, 2 low (``domain.controls.PRIORITIES``).
    priority: int = NORMAL_PRIORITY
    #: When the payload is removed (retention); None: kept until deleted.
    expires_at: float | None = None
    #: The publish's W3C traceparent, when tracing is on (attempts join its trace).
    trace_parent: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """The queue row of one message to one endpoint."""

    id: str
    msg_id: str
    endpoint_id: str
    app_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request of a delivery and what came back (or why nothing did)."""

    id: str
    delivery_id: str
    msg_id: str
    endpoint_id: str
    app_id: str
    url: str
    status: AttemptStatus
    response_status_code: int
    response: str
    response_headers: dict[str, str]
    duration_ms: int
    error_class: str | None
    trigger_type: TriggerType
    created_at: float
    #: The headers sent (credential-like values masked); empty if nothing was sent.
    request_headers: dict[str, str] = field(default_factory=dict)
    #: The body sent when it was not the message's stored payload (reshaped for the
    #: endpoint); None: the payload as stored (or nothing was sent).
    request_body: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Deliveries of an endpoint counted by state (Svix's EndpointStats)."""

    success: int = 0
    pending: int = 0
    sending: int = 0
    fail: int = 0


@dataclass(frozen=True, slots=True)
class EndpointMessage:
    """A message as one endpoint sees it: where its delivery stands."""

    message: Message
    status: AttemptStatus
    next_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class BackgroundTask:
    """A long-running operation and its result (Svix's BackgroundTaskOut)."""

    id: str
    app_id: str | None
    task: str  # e.g. "endpoint.recover"
    status: str  # "running", "finished" or "failed"
    data: JSONObject
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, with the cursors Svix's pagination hands back."""

    data: list[T]
    iterator: str | None
    prev_iterator: str | None
    done: bool
