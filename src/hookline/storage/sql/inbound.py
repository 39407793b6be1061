"""Inbound: sources, received events (deduplicated, then fanned out), counts, checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Message, Page, Source
from hookline.domain.series import Refusals, SourceStats
from hookline.domain.tokens import hash_token
from hookline.storage.records import Checkpoint, Cursor, ReceiveResult
from hookline.storage.sql._core import Connection, dumps, page, reads, writes
from hookline.storage.sql.audit import AuditTrail
from hookline.storage.sql.params import source_params
from hookline.storage.sql.rows import source_from_row


class InboundOps(AuditTrail):
    """Sources and what they receive."""

    @writes
    def create_source(
        self, conn: Connection, source: Source, audit: AuditEntry | None = None
    ) -> Source:
        what = f"a source with uid {source.uid!r}" if source.uid else "the source"
        self._change(conn, "insert_source", source_params(source, self.secret_box), what, audit)
        return source

    @reads
    def get_source(self, conn: Connection, app_id: str, key: str) -> Source:
        row = self._get(conn, "get_source", {"app_id": app_id, "key": key}, f"source {key!r}")
        return source_from_row(row, self.secret_box)

    @reads
    def find_source(self, conn: Connection, token: str) -> Source | None:
        row = self._one(conn, "get_source_by_token", {"token_hash": hash_token(token)})
        return None if row is None else source_from_row(row, self.secret_box)

    @reads
    def list_sources(self, conn: Connection, app_id: str, cursor: Cursor) -> Page[Source]:
        found = self._list(conn, "list_sources", cursor, app_id=app_id)
        rows = [source_from_row(r, self.secret_box) for r in found]
        return page(rows, cursor.limit, lambda src: src.id, cursor)

    @writes
    def update_source(
        self, conn: Connection, source: Source, audit: AuditEntry | None = None
    ) -> Source:
        params = source_params(source, self.secret_box)
        self._change(conn, "update_source", params, f"a source with uid {source.uid!r}", audit)
        return source

    @writes
    def delete_source(
        self, conn: Connection, app_id: str, key: str, audit: AuditEntry | None = None
    ) -> None:
        source = self.get_source(conn, app_id, key)
        conn.execute(self.q("delete_source"), {"id": source.id})
        self._audit(conn, audit)

    @writes
    def receive(
        self, conn: Connection, message: Message, dedup_key: str | None, window: float
    ) -> ReceiveResult:
        """Store a received event as ``message`` unless its key was seen within ``window``."""
        return self.receive_many(conn, [(message, dedup_key, window)])[0]

    @writes
    def receive_many(
        self, conn: Connection, items: Sequence[tuple[Message, str | None, float]]
    ) -> list[ReceiveResult]:
        """Store received events, each unless its key was seen within its window.

        One job for many events: the dedup claims go one by one (each must learn
        whether it won), the messages and their deliveries in one statement each.
        Copies of one event inside the batch are settled here, before the database.
        """
        results: list[ReceiveResult] = []
        fresh: list[Message] = []
        winners: dict[tuple[str | None, str], str] = {}
        for message, key, window in items:
            if key is not None:
                first = winners.get((message.source_id, key))
                if first is None:
                    first = self._claim_dedup_key(conn, message, key, window)
                if first != message.id:
                    results.append(ReceiveResult(msg_id=first, duplicate=True, deliveries=0))
                    continue
                winners[(message.source_id, key)] = message.id
            fresh.append(message)
            results.append(ReceiveResult(msg_id=message.id, duplicate=False, deliveries=0))
        counts = self._store_received(conn, fresh)
        self._count_received(conn, [m for m, _, _ in items], results)
        return [
            replace(result, deliveries=counts.get(result.msg_id, 0)) if not result.duplicate
            else result
            for result in results
        ]  # fmt: skip

    def _claim_dedup_key(self, conn: Connection, message: Message, key: str, window: float) -> str:
        """Claim ``key`` for ``message``; the id of whichever message holds it now."""
        claimed = conn.execute(
            self.q("claim_dedup_key"),
            {
                "source_id": message.source_id, "dedup_key": key, "msg_id": message.id,
                "expires_at": message.created_at + window, "now": message.created_at,
            },
        )  # fmt: skip
        if int(claimed.rowcount) == 1:
            return message.id
        row = self._one(conn, "get_dedup_msg", {"source_id": message.source_id, "dedup_key": key})
        return str(row["msg_id"]) if row else ""

    def _store_received(self, conn: Connection, messages: list[Message]) -> dict[str, int]:
        """Insert received messages and fan them out; deliveries made per message id."""
        versions: dict[str, int | None] = {}
        for message in messages:
            if message.app_id not in versions:
                found = self._one(conn, "routes_version", {"id": message.app_id})
                versions[message.app_id] = None if found is None else int(found["routes_version"])
        return self._store_messages(conn, messages, versions)

    def _count_received(
        self, conn: Connection, messages: Sequence[Message], results: Sequence[ReceiveResult]
    ) -> None:
        """Add a batch of received events to their sources' counts (one row per source)."""
        counts: dict[str, dict[str, Any]] = {}
        for message, result in zip(messages, results, strict=True):
            if message.source_id is None:
                continue
            row = counts.setdefault(
                message.source_id,
                {"source_id": message.source_id, "received": 0, "duplicates": 0, "at": None},
            )
            row["duplicates" if result.duplicate else "received"] += 1
            row["at"] = message.created_at
        self._count_traffic(
            conn,
            [
                [r["source_id"], r["received"], r["duplicates"], 0, r["at"], 0, 0]
                for r in counts.values()
            ],
        )

    def _count_traffic(self, conn: Connection, rows: list[list[Any]]) -> None:
        """Add to sources' counts: rows of [source id, received, duplicates, rejected, at,
        forbidden, limited]."""
        if rows:
            conn.execute(self.q("count_source_traffic"), {"rows": orjson.dumps(rows).decode()})

    @writes
    def count_refused(self, conn: Connection, refused: Mapping[str, Refusals]) -> None:
        self._count_traffic(
            conn,
            [
                [source, 0, 0, n.rejected, None, n.forbidden, n.limited]
                for source, n in refused.items()
                if n.rejected or n.forbidden or n.limited
            ],
        )

    @reads
    def source_stats(self, conn: Connection, source_ids: Sequence[str]) -> dict[str, SourceStats]:
        found = self._all(conn, "source_stats", {"ids": dumps(list(source_ids))})
        return {
            r["source_id"]: SourceStats(
                int(r["received"]), int(r["duplicates"]), int(r["rejected"]),
                r["last_received_at"], int(r["forbidden"]), int(r["limited"]),
            )
            for r in found
        }  # fmt: skip

    @reads
    def get_checkpoint(self, conn: Connection, source_id: str, run_key: str) -> Checkpoint | None:
        row = self._one(conn, "get_checkpoint", {"source_id": source_id, "run_key": run_key})
        if row is None:
            return None
        return Checkpoint(row["position"], int(row["done_count"]), bool(row["finished"]))

    @writes
    def save_checkpoint(
        self, conn: Connection, source_id: str, run_key: str, checkpoint: Checkpoint, now: float
    ) -> None:
        conn.execute(
            self.q("save_checkpoint"),
            {
                "source_id": source_id, "run_key": run_key, "position": checkpoint.position,
                "done_count": checkpoint.done_count, "finished": int(checkpoint.finished),
                "updated_at": now,
            },
        )  # fmt: skip
