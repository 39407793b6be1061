"""Applications and event types."""

from __future__ import annotations

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Application, EventType, Page
from hookline.storage.records import Cursor
from hookline.storage.sql._core import Connection, page, reads, writes
from hookline.storage.sql.audit import AuditTrail
from hookline.storage.sql.params import application_params, event_type_params
from hookline.storage.sql.rows import application_from_row, event_type_from_row

#: What deleting an application deletes, children first: all of its data goes with it
#: (and its tokens stop working at once).
_APPLICATION_DATA = (
    "delete_app_attempts", "delete_app_deliveries", "delete_app_messages",
    "delete_app_endpoint_states", "delete_app_poller_consumers", "delete_app_endpoints",
    "delete_app_tokens",
    "delete_app_source_data", "delete_app_dedup_keys", "delete_app_checkpoints",
    "delete_app_tasks", "delete_app_sources", "delete_application",
)  # fmt: skip


class ApplicationOps(AuditTrail):
    """Applications and event types."""

    @writes
    def create_application(
        self, conn: Connection, app: Application, audit: AuditEntry | None = None
    ) -> Application:
        what = f"an application with uid {app.uid!r}" if app.uid else "the application"
        self._change(conn, "insert_application", application_params(app), what, audit)
        return app

    @reads
    def get_application(self, conn: Connection, key: str) -> Application:
        row = self._get(conn, "get_application", {"key": key}, f"application {key!r}")
        return application_from_row(row)

    @reads
    def list_applications(self, conn: Connection, cursor: Cursor) -> Page[Application]:
        rows = [application_from_row(r) for r in self._list(conn, "list_applications", cursor)]
        return page(rows, cursor.limit, lambda a: a.id, cursor)

    @writes
    def update_application(
        self, conn: Connection, app: Application, audit: AuditEntry | None = None
    ) -> Application:
        what = f"an application with uid {app.uid!r}"
        self._change(conn, "update_application", application_params(app), what, audit)
        return app

    @writes
    def delete_application(
        self, conn: Connection, app_id: str, audit: AuditEntry | None = None
    ) -> None:
        for query in _APPLICATION_DATA:
            conn.execute(self.q(query), {"id": app_id})
        self._audit(conn, audit)

    @writes
    def create_event_type(
        self, conn: Connection, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType:
        what = f"event type {event_type.name!r}"
        self._change(conn, "insert_event_type", event_type_params(event_type), what, audit)
        return event_type

    @reads
    def get_event_type(self, conn: Connection, name: str) -> EventType:
        row = self._get(conn, "get_event_type", {"name": name}, f"event type {name!r}")
        return event_type_from_row(row)

    @reads
    def list_event_types(
        self, conn: Connection, cursor: Cursor, include_archived: bool
    ) -> Page[EventType]:
        found = self._list(
            conn, "list_event_types", cursor, default_ascending=True,
            include_archived=int(include_archived),
        )  # fmt: skip
        rows = [event_type_from_row(r) for r in found]
        return page(rows, cursor.limit, lambda e: e.name, cursor)

    @writes
    def update_event_type(
        self, conn: Connection, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType:
        conn.execute(self.q("update_event_type"), event_type_params(event_type))
        self._audit(conn, audit)
        return event_type

    @writes
    def delete_event_type(
        self, conn: Connection, name: str, audit: AuditEntry | None = None
    ) -> None:
        conn.execute(self.q("delete_event_type"), {"name": name})
        self._audit(conn, audit)
