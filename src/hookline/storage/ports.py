"""The storage roles: each part of hookline takes only the role it needs.

A backend implements every role; ``Storage`` is all of them at once. Code that only
delivers (the worker) takes a ``DeliveryQueue`` and never sees the resource, audit or
session operations; the idempotency middleware takes ``Idempotency``, and so on.

Each signature is written here once. The SQL backends implement them as synchronous
operations of a connection (``storage/sql/``), and one adapter (``_threaded.py``)
gives each its async face; tests/unit/test_storage_ports.py proves that every
method below has an implementation with the same signature on every backend.

Every change to a resource takes an optional ``audit`` entry, written in the same
transaction as the change: the trail never misses or invents a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from hookline.domain.audit import AuditEntry
from hookline.domain.jobs import JobParams
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    BackgroundTask,
    Delivery,
    Endpoint,
    EndpointMessage,
    EndpointStats,
    EventType,
    Message,
    Page,
    Source,
)
from hookline.domain.series import SeriesPoint, SourceStats
from hookline.domain.tokens import ApiToken
from hookline.errors import HooklineError
from hookline.storage.records import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    Checkpoint,
    ClaimedDelivery,
    Cursor,
    DeliveryState,
    IdempotentResponse,
    MessageFilter,
    Outcome,
    PublishResult,
    QueueStats,
    ReceiveResult,
    RekeyResult,
    WebSession,
)


class Lifecycle(Protocol):
    """Opening, closing and migrating the database."""

    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    async def close(self) -> None:
        """Finish pending writes and disconnect."""

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""


class Resources(Protocol):
    """Applications, event types and endpoints: what the operator configures."""

    async def create_application(
        self, app: Application, audit: AuditEntry | None = None
    ) -> Application: ...
    async def get_application(self, key: str) -> Application: ...
    async def list_applications(self, cursor: Cursor) -> Page[Application]: ...
    async def update_application(
        self, app: Application, audit: AuditEntry | None = None
    ) -> Application: ...
    async def delete_application(self, app_id: str, audit: AuditEntry | None = None) -> None:
        """Delete the application with all its endpoints, messages, attempts and tokens."""

    async def create_event_type(
        self, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType: ...
    async def get_event_type(self, name: str) -> EventType: ...
    async def list_event_types(self, cursor: Cursor, include_archived: bool) -> Page[EventType]: ...
    async def update_event_type(
        self, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType: ...
    async def delete_event_type(self, name: str, audit: AuditEntry | None = None) -> None: ...

    async def create_endpoint(
        self, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint: ...
    async def get_endpoint(self, app_id: str, key: str) -> Endpoint: ...
    async def set_paused(
        self, app_id: str, key: str, paused: bool, now: float, audit: AuditEntry | None = None
    ) -> Endpoint:
        """Pause (its deliveries wait) or resume (they go out, within its pace) an endpoint."""

    async def delivery_state(self, app_id: str, key: str, now: float) -> DeliveryState:
        """The endpoint's pause, circuit, pace and parked work."""

    async def list_endpoints(self, app_id: str, cursor: Cursor) -> Page[Endpoint]: ...
    async def update_endpoint(
        self, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint: ...
    async def delete_endpoint(
        self, app_id: str, endpoint_id: str, audit: AuditEntry | None = None
    ) -> None: ...
    async def rekey_secrets(self, batch_size: int = 500) -> RekeyResult:
        """Re-seal every endpoint secret (current and old) under the sealing key.

        Runs in batches of ``batch_size`` endpoints, a transaction each, beside live
        traffic: a row changed during its batch is not overwritten but tried again on
        another pass; ``skipped`` counts rows still changing after the last pass.
        """


class MessageLog(Protocol):
    """Publishing, and the searchable log of messages, deliveries and attempts."""

    async def publish(self, message: Message) -> PublishResult:
        """Store the message and one delivery per matching endpoint, atomically."""

    async def publish_many(
        self, messages: Sequence[Message]
    ) -> list[PublishResult | HooklineError]:
        """``publish`` for many messages in one transaction, one outcome per message, in order.

        A message naming no application gets its ``NotFoundError`` and the others are
        stored. If any insert fails (an eventId already taken) it raises and stores none.
        """

    async def get_message(self, app_id: str, key: str) -> Message: ...
    async def list_messages(
        self, app_id: str, cursor: Cursor, where: MessageFilter
    ) -> Page[Message]: ...
    async def get_delivery(self, msg_id: str, endpoint_id: str) -> Delivery: ...
    async def list_endpoint_messages(
        self,
        app_id: str,
        endpoint_id: str,
        cursor: Cursor,
        status: AttemptStatus | None = None,
        since: float = BEGINNING,
        until: float = END_OF_TIME,
    ) -> Page[EndpointMessage]:
        """The endpoint's messages, newest first, with where each delivery stands.

        ``status`` filters by Svix's status: success, pending (queued), fail (failed
        or held: the dead-letter list) or sending (leased by a worker).
        """

    async def get_attempt(self, app_id: str, msg_id: str, attempt_id: str) -> Attempt: ...
    async def list_attempts(
        self, app_id: str, cursor: Cursor, where: AttemptFilter
    ) -> Page[Attempt]: ...
    async def endpoint_stats(
        self, app_id: str, endpoint_id: str, since: float, until: float
    ) -> EndpointStats: ...
    async def attempt_series(
        self, app_id: str | None, since: float, until: float, bucket: float
    ) -> list[SeriesPoint]:
        """Attempts per ``bucket`` seconds in [since, until), of one application or all,
        with success counts and latency percentiles (at most the first 200,000)."""

    async def queue_stats(self, now: float) -> QueueStats:
        """Pending deliveries due, scheduled and leased at ``now`` (for metrics)."""


class DeliveryQueue(Protocol):
    """The queue a delivery worker pulls from: claim under a lease, record, give back."""

    async def claim(
        self,
        worker: str,
        now: float,
        lease_until: float,
        limit: int,
        busy: Mapping[str, int] | None = None,
        per_endpoint: int | None = None,
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries, oldest due first.

        With ``per_endpoint``, no endpoint gets more than that many minus what the
        worker already has in flight to it (``busy``, by endpoint id).
        """

    async def claim_batch(
        self, worker: str, endpoint_id: str, since: float, exclude: Sequence[str], limit: int,
        lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        """Lease up to ``limit`` more unsent first attempts of a batching endpoint, made
        since ``since`` (not yet due), to fill a batch of already claimed ``exclude``."""

    async def start_probes(self, now: float) -> int:
        """Half-open the circuits whose cool-down has passed, each with one probe delivery."""

    async def release(self, worker: str, delivery_ids: Sequence[str]) -> None:
        """Give leased deliveries back unattempted, due as before."""

    async def record(self, worker: str, outcomes: Sequence[Outcome], now: float) -> None:
        """Write attempts and move deliveries on, in one transaction."""

    async def next_due(self) -> float | None:
        """When the earliest pending delivery falls due (None if there is none)."""

    async def wait_for_work(self, timeout: float) -> None:
        """Return when new work may be due, or after ``timeout`` seconds."""


class Jobs(Protocol):
    """Re-sending and background jobs (recover, replay) that workers run in batches."""

    async def resend(
        self, app_id: str, msg_id: str, endpoint_id: str, now: float,
        audit: AuditEntry | None = None,
    ) -> Delivery:  # fmt: skip
        """Queue the message for the endpoint again now (creating the delivery if needed)."""

    async def recover(
        self, app_id: str, endpoint_id: str, since: float, until: float, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        """Start re-sending the endpoint's failed and held deliveries created in [since, until).

        Returns the running ``endpoint.recover`` job; its data counts ``messagesSent``.
        """

    async def start_job(
        self, app_id: str, kind: str, params: JobParams, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        """Record a job (``domain.jobs``) for a worker to run: a running background task."""

    async def claim_job(self, owner: str, now: float, lease_until: float) -> str | None:
        """Lease the oldest running job nobody holds; its id, or None."""

    async def run_job_batch(
        self, task_id: str, owner: str, now: float, lease_until: float
    ) -> BackgroundTask:
        """Do one batch of a held job (its work and its new place in one transaction)."""

    async def cancel_job(self, task_id: str, now: float) -> BackgroundTask:
        """Stop a running job where it is: ``failed`` with ``cancelled`` in its data."""

    async def get_task(self, task_id: str) -> BackgroundTask: ...
    async def list_tasks(
        self, cursor: Cursor, status: str | None, task: str | None, app_id: str | None = None
    ) -> Page[BackgroundTask]: ...


class Retention(Protocol):
    """Forgetting: payloads past retention, old attempts, expired keys and sessions."""

    async def expunge_expired(self, now: float, limit: int) -> int:
        """Remove up to ``limit`` payloads past their retention; how many were removed."""

    async def expunge_message(self, app_id: str, key: str) -> None:
        """Remove one message's payload now."""

    async def delete_old_attempts(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` attempt records made before ``before``."""

    async def expire_idempotent(self, before: float) -> int:
        """Forget idempotency keys stored before ``before``."""

    async def expire_dedup_keys(self, before: float) -> int:
        """Forget provider event ids whose window ended before ``before``."""

    async def expire_web_sessions(self, now: float) -> int:
        """Delete the web sessions expired at ``now``."""


class Idempotency(Protocol):
    """The answers to POSTs that carry an Idempotency-Key."""

    async def get_idempotent(self, key: str) -> IdempotentResponse | None: ...
    async def put_idempotent(self, key: str, response: IdempotentResponse) -> None: ...
    async def claim_idempotent(
        self, key: str, fingerprint: str, now: float, stale_before: float, expired_before: float
    ) -> IdempotentResponse | None:
        """Claim ``key`` atomically (None) or return its answer or in-progress claim.

        A claim in progress has ``status_code == 0``; one older than ``stale_before``
        is taken over, and a finished answer older than ``expired_before`` is replaced.
        """

    async def release_idempotent(self, key: str) -> None:
        """Drop an unfinished claim on ``key``."""


class Tokens(Protocol):
    """API tokens: issued, found by digest, revoked, expired."""

    async def create_token(self, token: ApiToken, audit: AuditEntry | None = None) -> ApiToken: ...
    async def create_token_once(self, token: ApiToken) -> bool:
        """Store ``token`` unless one with its id exists; True if this call stored it."""

    async def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with this digest, revoked and expired ones included."""

    async def get_token(self, token_id: str) -> ApiToken: ...
    async def list_tokens(self, cursor: Cursor, app_id: str | None = None) -> Page[ApiToken]: ...
    async def revoke_token(
        self, token_id: str, now: float, audit: AuditEntry | None = None
    ) -> ApiToken: ...
    async def expire_app_tokens(
        self,
        app_id: str,
        at: float,
        session_ids: Sequence[str] | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        """Make the application's tokens (of these sessions, if named) end at ``at``."""


class Audit(Protocol):
    """The audit trail (each change writes its entry with the change itself)."""

    async def list_audit(self, cursor: Cursor, app_id: str | None = None) -> Page[AuditEntry]:
        """The audit trail, newest first; ``app_id`` narrows it to one application."""


class Sources(Protocol):
    """Inbound: sources, received events with their deduplication, counts and checkpoints."""

    async def create_source(self, source: Source, audit: AuditEntry | None = None) -> Source: ...
    async def get_source(self, app_id: str, key: str) -> Source: ...
    async def find_source(self, token: str) -> Source | None:
        """The source receiving at ``/in/<token>``, or None."""

    async def list_sources(self, app_id: str, cursor: Cursor) -> Page[Source]: ...
    async def update_source(self, source: Source, audit: AuditEntry | None = None) -> Source: ...
    async def delete_source(
        self, app_id: str, key: str, audit: AuditEntry | None = None
    ) -> None: ...
    async def receive(
        self, message: Message, dedup_key: str | None, window: float
    ) -> ReceiveResult:
        """Store a received event and fan it out, unless ``dedup_key`` was seen within ``window``.

        Race-safe: concurrent copies of one event store it once; every copy learns
        the id it was stored under.
        """

    async def receive_many(
        self, items: Sequence[tuple[Message, str | None, float]]
    ) -> list[ReceiveResult]:
        """``receive`` for many events in one transaction, one result per item, in order.

        Copies of one event within ``items`` are stored once, like concurrent copies.
        """

    async def count_rejected(self, rejected: Mapping[str, int]) -> None:
        """Add requests that failed verification to their sources' counts."""

    async def source_stats(self, source_ids: Sequence[str]) -> dict[str, SourceStats]:
        """Received, duplicate and rejected counts of these sources (absent: none yet)."""

    async def get_checkpoint(self, source_id: str, run_key: str) -> Checkpoint | None: ...
    async def save_checkpoint(
        self, source_id: str, run_key: str, checkpoint: Checkpoint, now: float
    ) -> None: ...


class Sessions(Protocol):
    """Signed-in browsers of the dashboard and the portal."""

    async def create_web_session(self, session: WebSession) -> None: ...
    async def get_web_session(self, id_hash: str, now: float) -> WebSession | None:
        """The unexpired session with this id digest, or None."""

    async def touch_web_session(self, id_hash: str, expires_at: float) -> None: ...
    async def delete_web_session(self, id_hash: str) -> None: ...


class Storage(
    Lifecycle, Resources, MessageLog, DeliveryQueue, Jobs, Retention, Idempotency, Tokens,
    Audit, Sources, Sessions, Protocol,
):  # fmt: skip
    """One database holding the resources, the queue and the attempt log: every role."""


#: Every role, by name (the port test walks them).
ROLES: tuple[type, ...] = (
    Lifecycle, Resources, MessageLog, DeliveryQueue, Jobs, Retention, Idempotency, Tokens,
    Audit, Sources, Sessions,
)  # fmt: skip

__all__ = [
    "ROLES",
    "Audit",
    "DeliveryQueue",
    "Idempotency",
    "Jobs",
    "Lifecycle",
    "MessageLog",
    "Resources",
    "Retention",
    "Sessions",
    "Sources",
    "Storage",
    "Tokens",
]
