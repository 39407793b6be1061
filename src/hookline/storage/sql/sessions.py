"""Web sessions of the dashboard and the portal (the API token each holds, sealed)."""

from __future__ import annotations

from hookline.errors import SecretKeyError
from hookline.storage.records import WebSession
from hookline.storage.sql._core import Connection, SqlBase, reads, writes


class SessionOps(SqlBase):
    """Creating, reading, extending and ending web sessions."""

    @writes
    def create_web_session(self, conn: Connection, session: WebSession) -> None:
        context = f"web_session:{session.id_hash}"
        conn.execute(
            self.q("insert_web_session"),
            {
                "id_hash": session.id_hash, "kind": session.kind,
                "token": self.secret_box.seal(session.token, context), "csrf": session.csrf,
                "expires_at": session.expires_at,
            },
        )  # fmt: skip

    @reads
    def get_web_session(self, conn: Connection, id_hash: str, now: float) -> WebSession | None:
        row = self._one(conn, "get_web_session", {"id_hash": id_hash})
        if row is None or row["expires_at"] < now:
            return None
        try:
            token = self.secret_box.unseal(row["token"], f"web_session:{id_hash}")
        except SecretKeyError:
            return None  # sealed under a key this process lacks: sign in again
        return WebSession(id_hash, row["kind"], token, row["csrf"], row["expires_at"])

    @writes
    def touch_web_session(self, conn: Connection, id_hash: str, expires_at: float) -> None:
        conn.execute(self.q("touch_web_session"), {"id_hash": id_hash, "expires_at": expires_at})

    @writes
    def delete_web_session(self, conn: Connection, id_hash: str) -> None:
        conn.execute(self.q("delete_web_session"), {"id_hash": id_hash})
