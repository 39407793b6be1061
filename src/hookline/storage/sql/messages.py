"""Publishing, and the log of messages, deliveries and attempts (lists, search, figures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hookline.domain import ids
from hookline.domain.models import (
    Attempt,
    AttemptStatus,
    Delivery,
    DeliveryStatus,
    EndpointMessage,
    EndpointStats,
    Message,
    Page,
)
from hookline.domain.series import SeriesPoint, bucketed
from hookline.errors import HooklineError, NotFoundError
from hookline.storage.records import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    Cursor,
    MessageFilter,
    PublishResult,
    QueueStats,
)
from hookline.storage.sql._core import Connection, dumps, page, reads, writes
from hookline.storage.sql.endpoints import EndpointOps
from hookline.storage.sql.plans import QuotaGate, limits_of
from hookline.storage.sql.rows import attempt_from_row, delivery_from_row, message_from_row

#: Attempts read at most for one series of figures (the dashboard's charts).
SERIES_LIMIT = 200_000


def svix_status(status: str, lease_owner: str | None) -> AttemptStatus:
    """A delivery's state in Svix's terms: held and failed both read as Fail, and
    work parked by a pause, an open circuit or a FIFO queue reads as Pending."""
    if status == DeliveryStatus.SUCCESS:
        return AttemptStatus.SUCCESS
    if status == DeliveryStatus.PENDING:
        return AttemptStatus.SENDING if lease_owner else AttemptStatus.PENDING
    if status in (DeliveryStatus.WAITING, DeliveryStatus.QUEUED):
        return AttemptStatus.PENDING
    return AttemptStatus.FAIL


class MessageOps(QuotaGate, EndpointOps):
    """Publishing and reading the log."""

    @writes
    def publish(self, conn: Connection, message: Message) -> PublishResult:
        """Store ``message`` and its deliveries; its ``app_id`` may be the application's uid."""
        outcome = self.publish_many(conn, [message])[0]
        if isinstance(outcome, HooklineError):
            raise outcome
        return outcome

    @writes
    def publish_many(
        self, conn: Connection, messages: Sequence[Message]
    ) -> list[PublishResult | HooklineError]:
        """``publish`` for many messages at once, one outcome per message, in order.

        Each application is looked up once, and the messages and their deliveries
        are inserted with one statement each. A message naming no application gets
        its ``NotFoundError`` as its outcome and the others are stored; if an insert
        fails (an eventId already taken), it raises and the caller's savepoint drops
        them all.
        """
        app_ids: dict[str, str | None] = {}  # by the key (id or uid) a message names
        versions: dict[str, int | None] = {}  # each application's routing version, by id
        limits: dict[str, dict[str, Any] | None] = {}  # each application's plan, by id
        outcomes: list[Message | HooklineError] = []
        for message in messages:
            key = message.app_id
            if key not in app_ids:
                row = self._one(conn, "publish_application", {"key": key})
                app_ids[key] = None if row is None else row["id"]
                if row is not None:
                    versions[row["id"]] = int(row["routes_version"])
                    limits[row["id"]] = limits_of(row)
            app_id = app_ids[key]
            if app_id is None:
                outcomes.append(NotFoundError(f"application {key!r} not found"))
                continue
            plan_limits = limits[app_id]
            refused = (
                None if plan_limits is None
                else self._take_quotas(conn, app_id, plan_limits, message.created_at)
            )  # fmt: skip
            if refused is not None:
                outcomes.append(refused)
            else:
                outcomes.append(message if app_id == key else replace(message, app_id=app_id))
        stored = [outcome for outcome in outcomes if isinstance(outcome, Message)]
        counts = self._store_messages(conn, stored, versions)
        return [
            PublishResult(message=outcome, deliveries=counts[outcome.id])
            if isinstance(outcome, Message) else outcome
            for outcome in outcomes
        ]  # fmt: skip

    @reads
    def get_message(self, conn: Connection, app_id: str, key: str) -> Message:
        row = self._get(conn, "get_message", {"app_id": app_id, "key": key}, f"message {key!r}")
        return message_from_row(row)

    @reads
    def list_messages(
        self, conn: Connection, app_id: str, cursor: Cursor, where: MessageFilter
    ) -> Page[Message]:
        found = self._list(
            conn, "list_messages", cursor, app_id=app_id,
            event_types=dumps(list(where.event_types)) if where.event_types else None,
            channel=where.channel, tag=where.tag, since=where.since, until=where.until,
        )  # fmt: skip
        rows = [message_from_row(r) for r in found]
        return page(rows, cursor.limit, lambda m: m.id, cursor)

    @reads
    def get_delivery(self, conn: Connection, msg_id: str, endpoint_id: str) -> Delivery:
        row = self._one(conn, "get_delivery", {"msg_id": msg_id, "endpoint_id": endpoint_id})
        if row is None:
            raise NotFoundError(f"no delivery of message {msg_id!r} to endpoint {endpoint_id!r}")
        return delivery_from_row(row)

    @reads
    def list_endpoint_messages(
        self,
        conn: Connection,
        app_id: str,
        endpoint_id: str,
        cursor: Cursor,
        status: AttemptStatus | None = None,
        since: float = BEGINNING,
        until: float = END_OF_TIME,
        where: MessageFilter | None = None,
    ) -> Page[EndpointMessage]:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        narrow = where or MessageFilter()
        found = self._list(
            conn, "list_endpoint_messages", cursor, endpoint_id=endpoint.id,
            status=None if status is None else int(status),
            since=since, until=until,
            event_types=dumps(list(narrow.event_types)) if narrow.event_types else None,
            channel=narrow.channel, tag=narrow.tag,
        )  # fmt: skip
        rows = [
            EndpointMessage(
                message=message_from_row(r),
                status=svix_status(r["delivery_status"], r["lease_owner"]),
                next_attempt_at=r["next_attempt_at"],
            )
            for r in found
        ]
        return page(rows, cursor.limit, lambda e: e.message.id, cursor)

    @reads
    def get_attempt(self, conn: Connection, app_id: str, msg_id: str, attempt_id: str) -> Attempt:
        message = self.get_message(conn, app_id, msg_id)
        params = {"app_id": app_id, "msg_id": message.id, "id": attempt_id}
        return attempt_from_row(self._get(conn, "get_attempt", params, f"attempt {attempt_id!r}"))

    @reads
    def list_attempts(
        self, conn: Connection, app_id: str, cursor: Cursor, where: AttemptFilter
    ) -> Page[Attempt]:
        code_low = where.status_code_class
        found = self._list(
            conn, "list_attempts", cursor, app_id=app_id, msg_id=where.msg_id,
            endpoint_id=where.endpoint_id, status=where.status, code_low=code_low,
            # Class 0 means "no HTTP answer": codes in [0, 100).
            code_high=None if code_low is None else code_low + 100,
            event_types=dumps(list(where.event_types)) if where.event_types else None,
            channel=where.channel, tag=where.tag, since=where.since, until=where.until,
        )  # fmt: skip
        rows = [attempt_from_row(r) for r in found]
        return page(rows, cursor.limit, lambda a: a.id, cursor)

    @reads
    def endpoint_stats(
        self, conn: Connection, app_id: str, endpoint_id: str, since: float, until: float
    ) -> EndpointStats:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        row = self._one(
            conn, "endpoint_stats", {"endpoint_id": endpoint.id, "since": since, "until": until}
        )
        assert row is not None  # an aggregate always answers one row
        return EndpointStats(
            success=int(row["success"] or 0), pending=int(row["pending"] or 0),
            sending=int(row["sending"] or 0), fail=int(row["fail"] or 0),
        )  # fmt: skip

    @reads
    def attempt_series(
        self, conn: Connection, app_id: str | None, since: float, until: float, bucket: float
    ) -> list[SeriesPoint]:
        params = {
            "low": ids.floor_id(ids.ATTEMPT, since), "high": ids.floor_id(ids.ATTEMPT, until),
            "app_id": app_id, "limit": SERIES_LIMIT,
        }  # fmt: skip
        points = [
            (r["created_at"], int(r["status"]), int(r["duration_ms"]))
            for r in self._all(conn, "attempt_points", params)
        ]
        return bucketed(points, since, until, bucket)

    @reads
    def queue_stats(self, conn: Connection, now: float) -> QueueStats:
        row = self._one(conn, "queue_stats", {"now": now})
        assert row is not None  # an aggregate always answers one row
        oldest = row["oldest_due_at"]
        return QueueStats(
            due=int(row["due"]), scheduled=int(row["scheduled"]), leased=int(row["leased"]),
            oldest_due_at=None if oldest is None else float(oldest),
            endpoints_disabled=int(row["endpoints_disabled"]),
            endpoints_paused=int(row["endpoints_paused"]),
            circuits_open=int(row["circuits_open"]),
            circuits_half_open=int(row["circuits_half_open"]), waiting=int(row["waiting"]),
            queued=int(row["queued"]),
        )  # fmt: skip
