"""The records the storage roles take and give: cursors, filters, claims, outcomes, stats.

Plain frozen dataclasses, free of any database: the ports (``ports/``) speak in
them, the SQL backends build them from rows by column name (``sql/rows.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hookline.domain.circuit import Circuit
from hookline.domain.controls import NO_CONTROLS, Controls
from hookline.domain.destinations import Destination
from hookline.domain.endpoint_auth import EndpointAuth
from hookline.domain.models import AttemptStatus, Endpoint, Message, SigningKey

# What to write back for one claimed delivery is decided by the pure delivery policy;
# re-exported, so code that persists it imports it with the rest of the records.
from hookline.domain.policy import Outcome as Outcome  # noqa: PLC0414 - explicit re-export (mypy)

#: Bounds that stand for "no bound" in time filters.
BEGINNING = 0.0
END_OF_TIME = 1e12


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a list page starts: after (ascending) or before (descending) an id.

    ``ascending=None`` means the list's own default: newest first, except event
    types, which list by name A to Z (as Svix).
    """

    limit: int = 50
    iterator: str | None = None
    ascending: bool | None = None


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Narrows a message list; every field is optional."""

    event_types: Sequence[str] | None = None
    channel: str | None = None
    tag: str | None = None
    since: float = BEGINNING
    until: float = END_OF_TIME


@dataclass(frozen=True, slots=True)
class AttemptFilter:
    """Narrows an attempt list; ``status_code_class`` is 100, 200, ... 500, or 0 for none."""

    msg_id: str | None = None
    endpoint_id: str | None = None
    status: int | None = None
    status_code_class: int | None = None
    event_types: Sequence[str] | None = None
    channel: str | None = None
    tag: str | None = None
    since: float = BEGINNING
    until: float = END_OF_TIME


@dataclass(frozen=True, slots=True)
class PublishResult:
    """The stored message and how many deliveries it fanned out to."""

    message: Message
    deliveries: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The queue at one moment: pending deliveries by state, and the oldest due one's time."""

    due: int
    scheduled: int
    leased: int
    oldest_due_at: float | None
    endpoints_disabled: int
    endpoints_paused: int = 0
    circuits_open: int = 0
    circuits_half_open: int = 0
    #: Parked deliveries: of paused or open endpoints, and FIFO ones behind their head.
    waiting: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far a backfill run got: the last event's time (if events carry one) and count."""

    position: float | None
    done_count: int
    finished: bool


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """What became of a received event: stored as ``msg_id``, or a duplicate of it."""

    msg_id: str
    duplicate: bool
    deliveries: int


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery leased to one worker, with everything needed to send it."""

    id: str
    msg_id: str
    endpoint_id: str
    app_id: str
    attempts: int
    manual: bool
    event_type: str
    payload: bytes
    url: str
    endpoint_disabled: bool
    headers: dict[str, str]
    secret: str
    old_secrets: tuple[SigningKey, ...]
    retry_schedule: tuple[float, ...] | None
    failing_since: float | None
    #: Headers a received (inbound) message arrived with, to forward; None for published ones.
    message_headers: dict[str, str] | None = None
    #: Why this delivery cannot be sent now (its endpoint's secret does not unseal).
    problem: str | None = None
    #: The endpoint's pinned version, controls and configured rate (throttleRate).
    version: int = 1
    controls: Controls = NO_CONTROLS
    rate_limit: int | None = None
    #: The event type's versioning: {"latest": n, "transformations": {"1": {...}}}.
    versioning: dict[str, Any] | None = None
    #: FIFO: the delivery's ordering key (None when the endpoint is not FIFO).
    order_key: str | None = None
    #: When the endpoint's pace lets this request go (None: at once).
    send_at: float | None = None
    #: The publish's traceparent (tracing on): the attempt's span joins its trace.
    trace_parent: str | None = None
    #: Not an HTTP endpoint: the destination (a broker, a database) the delivery goes to,
    #: its configuration unsealed; the channel registered under its kind carries it.
    destination: Destination | None = None
    #: How the request authenticates to the endpoint (unsealed), None: only the signature.
    auth: EndpointAuth | None = None


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where an endpoint's delivery controls stand at one moment (for the API)."""

    paused: bool
    circuit: Circuit
    rate_limit: int | None
    effective_rate: float | None
    throttled_at: float | None
    next_slot_at: float | None
    waiting: int
    queued: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser of the dashboard or the portal (``kind``), by its id's digest."""

    id_hash: str
    kind: str
    token: str
    csrf: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class RekeyResult:
    """What a re-key did: rows re-sealed, and rows skipped because they kept changing."""

    rewritten: int
    skipped: int


@dataclass(frozen=True, slots=True)
class IdempotentResponse:
    """A stored answer to a POST carrying an Idempotency-Key (status 0: still running)."""

    fingerprint: str
    status_code: int
    body: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class AttemptCounts:
    """An endpoint's attempts in a window by outcome (Svix's ``EndpointAttemptStats``)."""

    success: int
    fail: int
    canceled: int = 0  # hookline never cancels an attempt


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an environment import did: resources created, and resources updated."""

    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class UsageFigure:
    """An application's messages in one quota period, its limit (None: none) and reset."""

    quota: str
    period: str
    used: int
    limit: int | None
    resets_at: float


@dataclass(frozen=True, slots=True)
class MessageDestination:
    """An endpoint a message was fanned out to, and where its delivery stands."""

    endpoint: Endpoint
    status: AttemptStatus
    next_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class DestinationHealth:
    """Why a destination is failing and when it is tried next (``DestinationOut``'s
    ``failureReason`` and ``nextRetryAt``); both None for one that is doing well."""

    #: What the destination answered to its latest failed attempt, while it still matters
    #: (no success since, or a delivery still waiting for its retry).
    failure_reason: str | None = None
    #: The earliest time a delivery of it that failed is due again (not leased).
    next_retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class PollQuery:
    """One read of a polling destination: which messages, from where, how many.

    Iterators are message ids (or a lower bound of ids at a time, ``ids.floor_id``):
    a read returns messages with ids after ``after`` and below ``before``, oldest first.
    """

    app_id: str
    #: The iterator to read after; None: the consumer's stored position (consumer_poll),
    #: else ``start``.
    after: str | None
    #: Where a reader with no iterator starts (the poller's creation).
    start: str
    #: Only ids below this: messages young enough that an earlier id might still be
    #: committing are left for the next read, so an iterator never steps over one.
    before: str
    #: The poller's own filters (event type patterns, channels), as an endpoint's.
    event_types: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    #: The reader's extra filters: one exact event type, one channel.
    event_type: str | None = None
    channel: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class MessagePoll:
    """What a poll read: the matching messages, the iterator to go on from, and whether
    the read reached the newest settled message."""

    messages: list[Message]
    iterator: str
    done: bool


__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "AttemptCounts",
    "AttemptFilter",
    "Checkpoint",
    "ClaimedDelivery",
    "Cursor",
    "DeliveryState",
    "DestinationHealth",
    "IdempotentResponse",
    "ImportCounts",
    "MessageDestination",
    "MessageFilter",
    "MessagePoll",
    "Outcome",
    "PollQuery",
    "PublishResult",
    "QueueStats",
    "ReceiveResult",
    "RekeyResult",
    "UsageFigure",
    "WebSession",
]
