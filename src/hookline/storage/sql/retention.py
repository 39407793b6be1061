"""Retention: payloads past their time, old attempts, and expired keys and sessions."""

from __future__ import annotations

from hookline.domain import ids
from hookline.storage.sql._core import Connection, dumps, writes
from hookline.storage.sql.messages import MessageOps


class RetentionOps(MessageOps):
    """What forgets: each call removes a bounded batch, or what has expired."""

    @writes
    def expunge_expired(self, conn: Connection, now: float, limit: int) -> int:
        """Remove up to ``limit`` payloads past their retention (of messages with nothing
        left to send)."""
        found = [r["id"] for r in self._all(conn, "expired_messages", {"now": now, "limit": limit})]
        if found:
            conn.execute(self.q("expunge_messages"), {"ids": dumps(found), "empty": b"{}"})
            conn.execute(self.q("expunge_attempt_bodies"), {"ids": dumps(found)})
        return len(found)

    @writes
    def expunge_message(self, conn: Connection, app_id: str, key: str) -> None:
        """Remove one message's payload now (Svix's expunge content)."""
        message = self.get_message(conn, app_id, key)
        conn.execute(self.q("expunge_message"), {"id": message.id, "empty": b"{}"})
        conn.execute(self.q("expunge_attempt_bodies"), {"ids": dumps([message.id])})

    @writes
    def delete_old_attempts(self, conn: Connection, before: float, limit: int) -> int:
        """Delete up to ``limit`` attempt records made before ``before``."""
        params = {"before": ids.floor_id(ids.ATTEMPT, before), "limit": limit}
        found = [r["id"] for r in self._all(conn, "old_attempt_ids", params)]
        if found:
            conn.execute(self.q("delete_attempts"), {"ids": dumps(found)})
        return len(found)

    @writes
    def expire_idempotent(self, conn: Connection, before: float) -> int:
        return int(conn.execute(self.q("expire_idempotency"), {"before": before}).rowcount)

    @writes
    def expire_dedup_keys(self, conn: Connection, before: float) -> int:
        return int(conn.execute(self.q("expire_dedup_keys"), {"before": before}).rowcount)

    @writes
    def expire_web_sessions(self, conn: Connection, now: float) -> int:
        return int(conn.execute(self.q("expire_web_sessions"), {"now": now}).rowcount)
