"""API tokens (stored by digest only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Page
from hookline.domain.tokens import ApiToken
from hookline.storage.records import Cursor
from hookline.storage.sql._core import Connection, dumps, page, reads, writes
from hookline.storage.sql.audit import AuditTrail
from hookline.storage.sql.params import token_params
from hookline.storage.sql.rows import token_from_row


class TokenOps(AuditTrail):
    """Issuing, finding, revoking and expiring tokens."""

    @writes
    def create_token(
        self, conn: Connection, token: ApiToken, audit: AuditEntry | None = None
    ) -> ApiToken:
        self._change(conn, "insert_token", token_params(token), "the token", audit)
        return token

    @writes
    def create_token_once(self, conn: Connection, token: ApiToken) -> bool:
        cursor = conn.execute(self.q("insert_token_if_absent"), token_params(token))
        return int(cursor.rowcount) == 1

    @reads
    def find_token(self, conn: Connection, token_hash: str) -> ApiToken | None:
        row = self._one(conn, "get_token_by_hash", {"token_hash": token_hash})
        return None if row is None else token_from_row(row)

    @reads
    def get_token(self, conn: Connection, token_id: str) -> ApiToken:
        return token_from_row(self._get(conn, "get_token", {"id": token_id}, f"token {token_id!r}"))

    @reads
    def list_tokens(
        self, conn: Connection, cursor: Cursor, app_id: str | None = None
    ) -> Page[ApiToken]:
        rows = [token_from_row(r) for r in self._list(conn, "list_tokens", cursor, app_id=app_id)]
        return page(rows, cursor.limit, lambda t: t.id, cursor)

    @writes
    def revoke_token(
        self, conn: Connection, token_id: str, now: float, audit: AuditEntry | None = None
    ) -> ApiToken:
        token = self.get_token(conn, token_id)
        conn.execute(self.q("revoke_token"), {"id": token.id, "now": now})
        self._audit(conn, audit)
        return replace(token, revoked_at=token.revoked_at or now)

    @writes
    def expire_app_tokens(
        self,
        conn: Connection,
        app_id: str,
        at: float,
        session_ids: Sequence[str] | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        sessions = None if session_ids is None else dumps(list(session_ids))
        cursor = conn.execute(
            self.q("expire_app_tokens"), {"app_id": app_id, "at": at, "sessions": sessions}
        )
        self._audit(conn, audit)
        return int(cursor.rowcount)
