"""The audit trail: each change's entry, written in the change's own transaction."""

from __future__ import annotations

from typing import Any

from hookline.domain import operational
from hookline.domain.audit import AuditEntry
from hookline.domain.models import Page
from hookline.storage.records import Cursor
from hookline.storage.sql._core import Connection, page, reads
from hookline.storage.sql.fanout import FanOut
from hookline.storage.sql.params import audit_params
from hookline.storage.sql.rows import audit_from_row


class AuditTrail(FanOut):
    """Writing and listing audit entries (and the operational webhooks some of them make)."""

    def _audit(self, conn: Connection, entry: AuditEntry | None) -> None:
        """Record a change in the same transaction as the change itself, and the
        operational webhook it makes, if any (so neither is ever lost or invented)."""
        if entry is None:
            return
        conn.execute(self.q("insert_audit"), audit_params(entry))
        event_type = operational.event_type_of(entry)
        if event_type is not None and entry.app_id is not None:
            app = self._one(conn, "get_application", {"key": entry.app_id})
            app_uid = None if app is None else app["uid"]
            event = operational.endpoint_event(entry, event_type, app_uid)
            self._publish_operational(conn, [event], entry.created_at)

    def _change(
        self, conn: Connection, query: str, params: dict[str, Any], what: str,
        audit: AuditEntry | None,
    ) -> None:  # fmt: skip
        """Insert or update a resource (a unique key it breaks: ``what`` already exists),
        with its audit entry."""
        self._insert(conn, query, params, what)
        self._audit(conn, audit)

    @reads
    def list_audit(
        self, conn: Connection, cursor: Cursor, app_id: str | None = None
    ) -> Page[AuditEntry]:
        rows = [audit_from_row(r) for r in self._list(conn, "list_audit", cursor, app_id=app_id)]
        return page(rows, cursor.limit, lambda e: e.id, cursor)
