"""Idempotency keys: the stored answers (sealed) to POSTs that carry one."""

from __future__ import annotations

from hookline.storage.records import IdempotentResponse
from hookline.storage.sql._core import Connection, SqlBase, reads, writes


class IdempotencyOps(SqlBase):
    """Claiming a key, storing its answer, releasing an unfinished claim."""

    @reads
    def get_idempotent(self, conn: Connection, key: str) -> IdempotentResponse | None:
        row = self._one(conn, "get_idempotency", {"key": key})
        if row is None:
            return None
        body = bytes(row["body"])
        if body:
            # Stored answers are sealed: some carry a new secret or token.
            body = self.secret_box.unseal(body.decode(), f"idempotency:{key}").encode()
        return IdempotentResponse(
            fingerprint=row["fingerprint"], status_code=row["status_code"], body=body,
            created_at=row["created_at"],
        )  # fmt: skip

    @writes
    def put_idempotent(self, conn: Connection, key: str, response: IdempotentResponse) -> None:
        conn.execute(
            self.q("put_idempotency"),
            {
                "key": key, "fingerprint": response.fingerprint,
                "status_code": response.status_code,
                # API answers are JSON, so text; a new secret or token in one stays sealed.
                "body": self.secret_box.seal(
                    response.body.decode(), f"idempotency:{key}"
                ).encode(),
                "created_at": response.created_at,
            },
        )  # fmt: skip

    @writes
    def claim_idempotent(
        self, conn: Connection, key: str, fingerprint: str, now: float, stale_before: float,
        expired_before: float,
    ) -> IdempotentResponse | None:  # fmt: skip
        """Take ``key`` for a request about to run (None), or return what already holds it.

        What holds it is a finished answer, or a claim in progress (status_code 0) made
        after ``stale_before``; an older claim was abandoned by a crashed process and is
        taken over, and an answer older than ``expired_before`` no longer counts.
        """
        held = self.get_idempotent(conn, key)
        if held is not None:
            live = held.created_at >= (stale_before if held.status_code == 0 else expired_before)
            if live:
                return held
            conn.execute(self.q("delete_idempotency"), {"key": key})
        claim = {"key": key, "fingerprint": fingerprint, "body": b"", "created_at": now}
        if conn.execute(self.q("claim_idempotency"), claim).rowcount == 1:
            return None
        # A concurrent claim (another process) won the race for this key.
        return self.get_idempotent(conn, key) or IdempotentResponse(fingerprint, 0, b"", now)

    @writes
    def release_idempotent(self, conn: Connection, key: str) -> None:
        """Drop an unfinished claim, so that a retry runs for real."""
        conn.execute(self.q("release_idempotency"), {"key": key})
