"""Background work: re-sending and jobs, and forgetting what has expired."""

from __future__ import annotations

from typing import Protocol

from hookline.domain.audit import AuditEntry
from hookline.domain.jobs import JobParams
from hookline.domain.models import BackgroundTask, Delivery, Page
from hookline.storage.records import Cursor


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
        self, app_id: str | None, kind: str, params: JobParams, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        """Record a job (``domain.jobs``) for a worker to run: a running background task
        (``app_id`` None: a job over every application, that only admin tokens see)."""

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
