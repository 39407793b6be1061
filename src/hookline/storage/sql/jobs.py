"""Re-sending, and background jobs (recover, bulk replay) that workers run in batches."""

from __future__ import annotations

from dataclasses import asdict, replace

from hookline.domain import ids, jobs
from hookline.domain.audit import AuditEntry
from hookline.domain.models import BackgroundTask, Delivery, DeliveryStatus, Page
from hookline.errors import ConflictError
from hookline.storage.records import Cursor
from hookline.storage.sql._core import Connection, dumps, loads, page, reads, writes
from hookline.storage.sql.fanout import delivery_rows, fan_out
from hookline.storage.sql.operations import OperationOps
from hookline.storage.sql.rows import delivery_from_row, message_from_row, task_from_row


class JobOps(OperationOps):
    """Resend, recover and the jobs that run them."""

    @writes
    def resend(
        self, conn: Connection, app_id: str, msg_id: str, endpoint_id: str, now: float,
        audit: AuditEntry | None = None,
    ) -> Delivery:  # fmt: skip
        message = self.get_message(conn, app_id, msg_id)
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        expunged = self._one(conn, "message_expunged", {"id": message.id})
        if expunged is not None and expunged["expunged"]:
            raise ConflictError(
                f"message {message.id!r} no longer has its payload (retention or expunge): "
                "it cannot be sent again"
            )
        row = self._one(conn, "get_delivery", {"msg_id": message.id, "endpoint_id": endpoint.id})
        if row is None:
            conn.execute(
                self.q("insert_delivery"),
                {
                    "id": ids.new_id(ids.DELIVERY, now), "msg_id": message.id,
                    "endpoint_id": endpoint.id, "app_id": app_id,
                    "status": DeliveryStatus.PENDING, "next_attempt_at": now, "created_at": now,
                    "priority": message.priority, "order_key": None,
                },
            )  # fmt: skip
            row = self._one(
                conn, "get_delivery", {"msg_id": message.id, "endpoint_id": endpoint.id}
            )
            assert row is not None
        delivery = delivery_from_row(row)
        conn.execute(self.q("requeue_delivery"), {"id": delivery.id, "now": now, "manual": 1})
        self.dialect.on_publish(conn)
        if audit is not None:  # by the ids found (the caller may have named an eventId)
            after = {**(audit.after or {}), "endpoint_id": endpoint.id}
            self._audit(conn, replace(audit, resource_id=message.id, after=after))
        return replace(delivery, status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now)

    @writes
    def recover(
        self, conn: Connection, app_id: str, endpoint_id: str, since: float, until: float,
        now: float, audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        return self.start_job(
            conn, app_id, jobs.RECOVER, jobs.JobParams(endpoint.id, since, until), now, audit
        )

    @writes
    def start_job(
        self, conn: Connection, app_id: str | None, kind: str, params: jobs.JobParams, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        """Record a job to run (a worker takes it up): a running background task, and
        ``audit``, the entry of who asked for it, in the same transaction."""
        task = BackgroundTask(
            id=ids.new_id(ids.TASK, now), app_id=app_id, task=kind, status=jobs.RUNNING,
            data=jobs.initial_data(kind), created_at=now, updated_at=now,
        )  # fmt: skip
        conn.execute(
            self.q("insert_task"),
            {**asdict(task), "data": dumps(task.data), "params": dumps(params.to_json())},
        )
        self.dialect.on_publish(conn)  # wakes workers: one of them runs jobs
        if audit is not None:
            self._audit(conn, replace(audit, after={**(audit.after or {}), "task_id": task.id}))
        return task

    @writes
    def claim_job(self, conn: Connection, owner: str, now: float, lease_until: float) -> str | None:
        """Lease the oldest running job that nobody holds; its id, or None."""
        row = self._one(
            conn, "claim_task", {"owner": owner, "now": now, "lease_until": lease_until}
        )
        return None if row is None else str(row["id"])

    @writes
    def run_job_batch(
        self, conn: Connection, task_id: str, owner: str, now: float, lease_until: float
    ) -> BackgroundTask:
        """Do one batch of a job this runner holds; the task as it now stands.

        The batch's work and the job's new place are one transaction: a crash
        between batches resumes at the next one, never redoes one.
        """
        row = self._get(conn, "get_task_job", {"id": task_id}, f"background task {task_id!r}")
        task = task_from_row(row)
        if task.status != jobs.RUNNING or row["lease_owner"] != owner:
            return task  # cancelled, or another runner took it over
        params = jobs.JobParams.from_json(loads(row["params"]))
        sent = 0
        if task.task in jobs.OVER_APPLICATIONS:
            data, params, done = self._application_batch(conn, task, params, now)
        else:
            if task.task == jobs.REPLAY:
                sent, params, done = self._replay_batch(conn, task, params, now)
            else:
                sent, params, done = self._resend_batch(conn, task.task, params, now)
            data = {**task.data, "messagesSent": int(task.data.get("messagesSent", 0)) + sent}
        status = jobs.FINISHED if done else jobs.RUNNING
        conn.execute(
            self.q("save_task_progress"),
            {
                "id": task_id, "owner": owner, "status": status, "data": dumps(data),
                "params": dumps(params.to_json()), "now": now,
                "lease_until": lease_until if not done else None,
            },
        )  # fmt: skip
        if sent:
            self.dialect.on_publish(conn)
        return replace(task, status=status, data=data, updated_at=now)

    def _resend_batch(
        self, conn: Connection, kind: str, params: jobs.JobParams, now: float
    ) -> tuple[int, jobs.JobParams, bool]:
        """Re-send a batch of an endpoint's deliveries (recover, bulk replay)."""
        statuses = dumps(list(jobs.statuses_resent(kind, params.status)))
        found = self._all(
            conn, "resend_candidates",
            {
                "endpoint_id": params.endpoint_id, "statuses": statuses, "since": params.since,
                "until": params.until, "after_at": params.after[0], "after_id": params.after[1],
                "event_types": dumps(list(params.event_types)) if params.event_types else None,
                "channel": params.channel, "limit": jobs.BATCH,
            },
        )  # fmt: skip
        if not found:
            return 0, params, True
        picked = [r["id"] for r in found]
        sent = conn.execute(
            self.q("resend_many"), {"ids": dumps(picked), "statuses": statuses, "now": now}
        ).rowcount
        self._promote_all(conn, params.endpoint_id, now)
        last = found[-1]
        params = replace(params, after=(float(last["created_at"]), str(last["id"])))
        return int(sent), params, len(found) < jobs.BATCH

    def _replay_batch(
        self, conn: Connection, task: BackgroundTask, params: jobs.JobParams, now: float
    ) -> tuple[int, jobs.JobParams, bool]:
        """Send an endpoint a batch of the messages it never had a delivery of."""
        assert task.app_id is not None
        targets = [t for t in self._route_targets(conn, task.app_id) if t.id == params.endpoint_id]
        found = self._all(
            conn, "replay_candidates",
            {
                "app_id": task.app_id, "low": ids.floor_id(ids.MESSAGE, params.since),
                "high": ids.floor_id(ids.MESSAGE, params.until), "after_id": params.after[1],
                "event_types": dumps(list(params.event_types)) if params.event_types else None,
                "limit": jobs.BATCH,
            },
        )  # fmt: skip
        if not found or not targets:
            return 0, params, True
        sent = 0
        for row in found:
            stored = replace(message_from_row(row), headers=loads(row["headers"]))
            message = replace(stored, created_at=now)
            chosen, body = fan_out(stored, targets)
            for delivery in delivery_rows(message, chosen, body):
                sent += conn.execute(self.q("insert_delivery_if_absent"), delivery).rowcount
        self._promote_all(conn, params.endpoint_id, now)
        params = replace(params, after=(0.0, str(found[-1]["id"])))
        return sent, params, len(found) < jobs.BATCH

    @writes
    def cancel_job(self, conn: Connection, task_id: str, now: float) -> BackgroundTask:
        """Stop a running job where it is (its count so far stays); a finished one is as it was."""
        task = self.get_task(conn, task_id)
        if task.status == jobs.RUNNING:
            data = {**task.data, "cancelled": True}
            if conn.execute(
                self.q("cancel_task"), {"id": task_id, "data": dumps(data), "now": now}
            ).rowcount:
                return replace(task, status=jobs.FAILED, data=data, updated_at=now)
        return self.get_task(conn, task_id)

    @reads
    def get_task(self, conn: Connection, task_id: str) -> BackgroundTask:
        row = self._get(conn, "get_task", {"id": task_id}, f"background task {task_id!r}")
        return task_from_row(row)

    @reads
    def list_tasks(
        self, conn: Connection, cursor: Cursor, status: str | None, task: str | None,
        app_id: str | None = None,
    ) -> Page[BackgroundTask]:  # fmt: skip
        found = self._list(conn, "list_tasks", cursor, status=status, task=task, app_id=app_id)
        return page([task_from_row(r) for r in found], cursor.limit, lambda t: t.id, cursor)
