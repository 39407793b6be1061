"""The async face of the SQL backends: every ``Storage`` call, once.

A backend subclass says how a unit of work runs: ``_write`` runs it in a
transaction that may change data, ``_read`` in one that only reads. Both run a
synchronous ``SqlOperations`` method on a thread of the backend's, so the event
loop never blocks on the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

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
from hookline.storage._sql import SqlOperations
from hookline.storage.base import (
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

T = TypeVar("T")

#: Full passes a re-key makes at most while rows keep changing under it.
REKEY_PASSES = 3


class ThreadedSqlStorage:
    """``Storage`` over ``SqlOperations``; subclasses supply the threads and transactions."""

    ops: SqlOperations

    async def _write(self, run: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        """Run ``run(conn, *args)`` in a write transaction. ``urgent`` (a worker's claims)
        asks a backend with a single writer to run it ahead of writes queued beside it."""
        raise NotImplementedError

    async def _read(self, run: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    # applications ------------------------------------------------------------------

    async def create_application(
        self, app: Application, audit: AuditEntry | None = None
    ) -> Application:
        return await self._write(self.ops.create_application, app, audit)

    async def get_application(self, key: str) -> Application:
        return await self._read(self.ops.get_application, key)

    async def list_applications(self, cursor: Cursor) -> Page[Application]:
        return await self._read(self.ops.list_applications, cursor)

    async def update_application(
        self, app: Application, audit: AuditEntry | None = None
    ) -> Application:
        return await self._write(self.ops.update_application, app, audit)

    async def delete_application(self, app_id: str, audit: AuditEntry | None = None) -> None:
        await self._write(self.ops.delete_application, app_id, audit)

    # event types ---------------------------------------------------------------------

    async def create_event_type(
        self, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType:
        return await self._write(self.ops.create_event_type, event_type, audit)

    async def get_event_type(self, name: str) -> EventType:
        return await self._read(self.ops.get_event_type, name)

    async def list_event_types(self, cursor: Cursor, include_archived: bool) -> Page[EventType]:
        return await self._read(self.ops.list_event_types, cursor, include_archived)

    async def update_event_type(
        self, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType:
        return await self._write(self.ops.update_event_type, event_type, audit)

    async def delete_event_type(self, name: str, audit: AuditEntry | None = None) -> None:
        await self._write(self.ops.delete_event_type, name, audit)

    # endpoints -----------------------------------------------------------------------

    async def create_endpoint(
        self, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint:
        return await self._write(self.ops.create_endpoint, endpoint, audit)

    async def get_endpoint(self, app_id: str, key: str) -> Endpoint:
        return await self._read(self.ops.get_endpoint, app_id, key)

    async def set_paused(
        self, app_id: str, key: str, paused: bool, now: float, audit: AuditEntry | None = None
    ) -> Endpoint:
        return await self._write(self.ops.set_paused, app_id, key, paused, now, audit)

    async def delivery_state(self, app_id: str, key: str, now: float) -> DeliveryState:
        return await self._read(self.ops.delivery_state, app_id, key, now)

    async def list_endpoints(self, app_id: str, cursor: Cursor) -> Page[Endpoint]:
        return await self._read(self.ops.list_endpoints, app_id, cursor)

    async def update_endpoint(
        self, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint:
        return await self._write(self.ops.update_endpoint, endpoint, audit)

    async def delete_endpoint(
        self, app_id: str, endpoint_id: str, audit: AuditEntry | None = None
    ) -> None:
        await self._write(self.ops.delete_endpoint, app_id, endpoint_id, audit)

    async def rekey_secrets(self, batch_size: int = 500) -> RekeyResult:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        rewritten = skipped = 0
        # Endpoints (signing secrets), then inbound sources (receiving tokens and secrets).
        for rekey_page in (self.ops.rekey_page, self.ops.rekey_source_page):
            for _ in range(REKEY_PASSES):
                changed = 0
                after = ""
                while True:
                    page = await self._write(rekey_page, after, batch_size)
                    rewritten += page.rewritten
                    changed += page.changed
                    if page.scanned < batch_size:
                        break
                    after = page.last_id
                if not changed:
                    break
            skipped += changed
        return RekeyResult(rewritten=rewritten, skipped=skipped)

    # messages --------------------------------------------------------------------------

    async def publish(self, message: Message) -> PublishResult:
        return await self._write(self.ops.publish, message)

    async def publish_many(
        self, messages: Sequence[Message]
    ) -> list[PublishResult | HooklineError]:
        return await self._write(self.ops.publish_many, tuple(messages))

    async def get_message(self, app_id: str, key: str) -> Message:
        return await self._read(self.ops.get_message, app_id, key)

    async def list_messages(
        self, app_id: str, cursor: Cursor, where: MessageFilter
    ) -> Page[Message]:
        return await self._read(self.ops.list_messages, app_id, cursor, where)

    # the queue -------------------------------------------------------------------------

    async def claim(
        self,
        worker: str,
        now: float,
        lease_until: float,
        limit: int,
        busy: Mapping[str, int] | None = None,
        per_endpoint: int | None = None,
    ) -> list[ClaimedDelivery]:
        return await self._write(
            self.ops.claim, worker, now, lease_until, limit, dict(busy or {}), per_endpoint,
            urgent=True,
        )  # fmt: skip

    async def claim_batch(
        self, worker: str, endpoint_id: str, since: float, exclude: Sequence[str], limit: int,
        lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        return await self._write(
            self.ops.claim_batch, worker, endpoint_id, since, exclude, limit, lease_until,
            urgent=True,
        )  # fmt: skip

    async def start_probes(self, now: float) -> int:
        return await self._write(self.ops.start_probes, now)

    async def release(self, worker: str, delivery_ids: Sequence[str]) -> None:
        await self._write(self.ops.release, worker, tuple(delivery_ids))

    async def record(self, worker: str, outcomes: Sequence[Outcome], now: float) -> None:
        await self._write(self.ops.record, worker, tuple(outcomes), now)

    async def queue_stats(self, now: float) -> QueueStats:
        return await self._read(self.ops.queue_stats, now)

    async def next_due(self) -> float | None:
        return await self._read(self.ops.next_due)

    # attempts, resend, recover, stats -----------------------------------------------------

    async def get_delivery(self, msg_id: str, endpoint_id: str) -> Delivery:
        return await self._read(self.ops.get_delivery, msg_id, endpoint_id)

    async def resend(
        self, app_id: str, msg_id: str, endpoint_id: str, now: float,
        audit: AuditEntry | None = None,
    ) -> Delivery:  # fmt: skip
        return await self._write(self.ops.resend, app_id, msg_id, endpoint_id, now, audit)

    async def recover(
        self, app_id: str, endpoint_id: str, since: float, until: float, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        return await self._write(self.ops.recover, app_id, endpoint_id, since, until, now, audit)

    async def start_job(
        self, app_id: str, kind: str, params: JobParams, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        return await self._write(self.ops.start_job, app_id, kind, params, now, audit)

    async def claim_job(self, owner: str, now: float, lease_until: float) -> str | None:
        return await self._write(self.ops.claim_job, owner, now, lease_until)

    async def run_job_batch(
        self, task_id: str, owner: str, now: float, lease_until: float
    ) -> BackgroundTask:
        return await self._write(self.ops.run_job_batch, task_id, owner, now, lease_until)

    async def cancel_job(self, task_id: str, now: float) -> BackgroundTask:
        return await self._write(self.ops.cancel_job, task_id, now)

    async def expunge_expired(self, now: float, limit: int) -> int:
        return await self._write(self.ops.expunge_expired, now, limit)

    async def expunge_message(self, app_id: str, key: str) -> None:
        await self._write(self.ops.expunge_message, app_id, key)

    async def delete_old_attempts(self, before: float, limit: int) -> int:
        return await self._write(self.ops.delete_old_attempts, before, limit)

    async def list_endpoint_messages(
        self,
        app_id: str,
        endpoint_id: str,
        cursor: Cursor,
        status: AttemptStatus | None = None,
        since: float = BEGINNING,
        until: float = END_OF_TIME,
    ) -> Page[EndpointMessage]:
        return await self._read(
            self.ops.list_endpoint_messages, app_id, endpoint_id, cursor, status, since, until
        )

    async def get_task(self, task_id: str) -> BackgroundTask:
        return await self._read(self.ops.get_task, task_id)

    async def list_tasks(
        self, cursor: Cursor, status: str | None, task: str | None, app_id: str | None = None
    ) -> Page[BackgroundTask]:
        return await self._read(self.ops.list_tasks, cursor, status, task, app_id)

    async def endpoint_stats(
        self, app_id: str, endpoint_id: str, since: float, until: float
    ) -> EndpointStats:
        return await self._read(self.ops.endpoint_stats, app_id, endpoint_id, since, until)

    async def get_attempt(self, app_id: str, msg_id: str, attempt_id: str) -> Attempt:
        return await self._read(self.ops.get_attempt, app_id, msg_id, attempt_id)

    async def list_attempts(
        self, app_id: str, cursor: Cursor, where: AttemptFilter
    ) -> Page[Attempt]:
        return await self._read(self.ops.list_attempts, app_id, cursor, where)

    # idempotency ---------------------------------------------------------------------------

    async def get_idempotent(self, key: str) -> IdempotentResponse | None:
        return await self._read(self.ops.get_idempotent, key)

    async def put_idempotent(self, key: str, response: IdempotentResponse) -> None:
        await self._write(self.ops.put_idempotent, key, response)

    async def claim_idempotent(
        self, key: str, fingerprint: str, now: float, stale_before: float, expired_before: float
    ) -> IdempotentResponse | None:
        return await self._write(
            self.ops.claim_idempotent, key, fingerprint, now, stale_before, expired_before
        )

    async def release_idempotent(self, key: str) -> None:
        await self._write(self.ops.release_idempotent, key)

    async def expire_idempotent(self, before: float) -> int:
        return await self._write(self.ops.expire_idempotent, before)

    # tokens and the audit trail --------------------------------------------------------------

    async def create_token(self, token: ApiToken, audit: AuditEntry | None = None) -> ApiToken:
        return await self._write(self.ops.create_token, token, audit)

    async def create_token_once(self, token: ApiToken) -> bool:
        return await self._write(self.ops.create_token_once, token)

    async def find_token(self, token_hash: str) -> ApiToken | None:
        return await self._read(self.ops.find_token, token_hash)

    async def get_token(self, token_id: str) -> ApiToken:
        return await self._read(self.ops.get_token, token_id)

    async def list_tokens(self, cursor: Cursor, app_id: str | None = None) -> Page[ApiToken]:
        return await self._read(self.ops.list_tokens, cursor, app_id)

    async def revoke_token(
        self, token_id: str, now: float, audit: AuditEntry | None = None
    ) -> ApiToken:
        return await self._write(self.ops.revoke_token, token_id, now, audit)

    async def expire_app_tokens(
        self,
        app_id: str,
        at: float,
        session_ids: Sequence[str] | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        sessions = None if session_ids is None else tuple(session_ids)
        return await self._write(self.ops.expire_app_tokens, app_id, at, sessions, audit)

    async def list_audit(self, cursor: Cursor, app_id: str | None = None) -> Page[AuditEntry]:
        return await self._read(self.ops.list_audit, cursor, app_id)

    # inbound sources -----------------------------------------------------------------------

    async def create_source(self, source: Source, audit: AuditEntry | None = None) -> Source:
        return await self._write(self.ops.create_source, source, audit)

    async def get_source(self, app_id: str, key: str) -> Source:
        return await self._read(self.ops.get_source, app_id, key)

    async def find_source(self, token: str) -> Source | None:
        return await self._read(self.ops.find_source, token)

    async def list_sources(self, app_id: str, cursor: Cursor) -> Page[Source]:
        return await self._read(self.ops.list_sources, app_id, cursor)

    async def update_source(self, source: Source, audit: AuditEntry | None = None) -> Source:
        return await self._write(self.ops.update_source, source, audit)

    async def delete_source(self, app_id: str, key: str, audit: AuditEntry | None = None) -> None:
        await self._write(self.ops.delete_source, app_id, key, audit)

    async def receive(
        self, message: Message, dedup_key: str | None, window: float
    ) -> ReceiveResult:
        return await self._write(self.ops.receive, message, dedup_key, window)

    async def receive_many(
        self, items: Sequence[tuple[Message, str | None, float]]
    ) -> list[ReceiveResult]:
        return await self._write(self.ops.receive_many, tuple(items))

    async def expire_dedup_keys(self, before: float) -> int:
        return await self._write(self.ops.expire_dedup_keys, before)

    async def create_web_session(self, session: WebSession) -> None:
        await self._write(self.ops.create_web_session, session)

    async def get_web_session(self, id_hash: str, now: float) -> WebSession | None:
        return await self._read(self.ops.get_web_session, id_hash, now)

    async def touch_web_session(self, id_hash: str, expires_at: float) -> None:
        await self._write(self.ops.touch_web_session, id_hash, expires_at)

    async def delete_web_session(self, id_hash: str) -> None:
        await self._write(self.ops.delete_web_session, id_hash)

    async def expire_web_sessions(self, now: float) -> int:
        return await self._write(self.ops.expire_web_sessions, now)

    async def count_rejected(self, rejected: Mapping[str, int]) -> None:
        await self._write(self.ops.count_rejected, dict(rejected))

    async def source_stats(self, source_ids: Sequence[str]) -> dict[str, SourceStats]:
        return await self._read(self.ops.source_stats, list(source_ids))

    async def attempt_series(
        self, app_id: str | None, since: float, until: float, bucket: float
    ) -> list[SeriesPoint]:
        return await self._read(self.ops.attempt_series, app_id, since, until, bucket)

    async def get_checkpoint(self, source_id: str, run_key: str) -> Checkpoint | None:
        return await self._read(self.ops.get_checkpoint, source_id, run_key)

    async def save_checkpoint(
        self, source_id: str, run_key: str, checkpoint: Checkpoint, now: float
    ) -> None:
        await self._write(self.ops.save_checkpoint, source_id, run_key, checkpoint, now)
