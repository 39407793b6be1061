"""Re-sealing secrets under the current sealing key (``hookline rekey``), a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.storage.sql._core import Connection, SqlBase
from hookline.storage.sql.sealing import (
    seal_destination,
    seal_secrets,
    sealed_under_current_key,
    secret_context,
    source_context,
    unseal_destination,
    unseal_old_secrets,
    unseal_secret,
)


@dataclass(frozen=True, slots=True)
class RekeyPage:
    """One batch of a re-key: the last endpoint id read, and what became of the rows."""

    last_id: str
    scanned: int
    rewritten: int
    #: Rows whose secrets changed between the read and the write: left for another pass.
    changed: int


class RekeyOps(SqlBase):
    """One page of a re-key, each a transaction (the async face walks the pages)."""

    def rekey_page(self, conn: Connection, after: str, limit: int) -> RekeyPage:
        """Re-seal under the sealing key the secrets of up to ``limit`` endpoints after ``after``.

        A destination's sealed configuration is re-sealed with them. Rows already sealed
        under that key are left alone; legacy plaintext is sealed.
        A row is written only if its secrets are still what was read, so a rotation
        that lands meanwhile is never overwritten with the secret it replaced.
        """
        rows = self._all(conn, "endpoint_secrets_after", {"after": after, "limit": limit})
        rewritten = changed = 0
        box = self.secret_box
        for row in rows:
            endpoint_id, secret, old_secrets = row["id"], row["secret"], row["old_secrets"]
            config = row["destination_config"]
            if sealed_under_current_key(box, secret, old_secrets) and (
                config is None or box.is_current(config)
            ):
                continue
            new_secret, new_old_secrets = seal_secrets(
                box, endpoint_id, unseal_secret(box, endpoint_id, secret),
                unseal_old_secrets(box, endpoint_id, old_secrets),
            )  # fmt: skip
            # The kind only says there is a destination: it is not re-written here.
            destination = unseal_destination(box, endpoint_id, "", config) if config else None
            new_config = seal_destination(box, endpoint_id, destination)[1]
            params = {
                "id": endpoint_id, "secret": secret, "old_secrets": old_secrets,
                "new_secret": new_secret, "new_old_secrets": new_old_secrets,
                "destination_config": config or "", "new_destination_config": new_config,
            }  # fmt: skip
            if conn.execute(self.q("reseal_endpoint_secrets"), params).rowcount == 1:
                rewritten += 1
            else:
                changed += 1
        last_id = rows[-1]["id"] if rows else after
        return RekeyPage(last_id=last_id, scanned=len(rows), rewritten=rewritten, changed=changed)

    def rekey_auth_page(self, conn: Connection, after: str, limit: int) -> RekeyPage:
        """``rekey_page`` for endpoints' credentials (``auth``: one sealed value each)."""
        rows = self._all(conn, "endpoint_auth_after", {"after": after, "limit": limit})
        rewritten = changed = 0
        box = self.secret_box
        for row in rows:
            endpoint_id, auth = row["id"], row["auth"]
            if box.is_current(auth):
                continue
            context = secret_context(endpoint_id, "auth")
            params = {
                "id": endpoint_id, "auth": auth,
                "new_auth": box.seal(box.unseal(auth, context), context),
            }  # fmt: skip
            if conn.execute(self.q("reseal_endpoint_auth"), params).rowcount == 1:
                rewritten += 1
            else:
                changed += 1
        last_id = rows[-1]["id"] if rows else after
        return RekeyPage(last_id=last_id, scanned=len(rows), rewritten=rewritten, changed=changed)

    def rekey_source_page(self, conn: Connection, after: str, limit: int) -> RekeyPage:
        """``rekey_page`` for inbound sources: their receiving token and their secrets."""
        rows = self._all(conn, "source_secrets_after", {"after": after, "limit": limit})
        rewritten = changed = 0
        box = self.secret_box
        for row in rows:
            source_id, token, secrets = row["id"], row["token"], row["secrets"]
            if box.is_current(token) and box.is_current(secrets):
                continue
            token_context = source_context(source_id, "token")
            secrets_context = source_context(source_id, "secrets")
            params = {
                "id": source_id, "token": token, "secrets": secrets,
                "new_token": box.seal(box.unseal(token, token_context), token_context),
                "new_secrets": box.seal(box.unseal(secrets, secrets_context), secrets_context),
            }  # fmt: skip
            if conn.execute(self.q("reseal_source_secrets"), params).rowcount == 1:
                rewritten += 1
            else:
                changed += 1
        last_id = rows[-1]["id"] if rows else after
        return RekeyPage(last_id=last_id, scanned=len(rows), rewritten=rewritten, changed=changed)
