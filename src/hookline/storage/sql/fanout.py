"""Fan-out: storing messages with one delivery per routed endpoint, and the routing cache.

Publishing, receiving, replaying and operational webhooks all store messages through
``_store_messages``; FIFO heads and full batches are settled in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from hookline.domain import ids, operational, policy
from hookline.domain.circuit import CircuitState
from hookline.domain.controls import ordering_key
from hookline.domain.models import Message
from hookline.domain.routing import RouteTarget, route, route_payload
from hookline.domain.secrets import SecretBox
from hookline.errors import ConflictError
from hookline.storage.sql._core import Connection, Dialect, SqlBase, as_tuple, dumps
from hookline.storage.sql.params import message_params
from hookline.storage.sql.rows import controls_of, filter_text_of

#: Fan-out rows inserted at a time when storing many messages at once.
DELIVERY_ROWS_PER_INSERT = 10_000
#: Endpoints whose routing one process keeps in memory, over all applications (beyond
#: it, it starts over): tens of megabytes at most.
MAX_CACHED_TARGETS = 100_000


def delivery_rows(
    message: Message, targets: Sequence[RouteTarget], body: object
) -> list[dict[str, Any]]:
    """One delivery per target, in the status ``policy.initial_status`` gives it.

    ``body`` is the parsed payload, needed only by FIFO endpoints with an ordering key.
    """
    rows = []
    for endpoint in targets:
        ordering = endpoint.controls.ordering
        key = None if ordering is None else ordering_key(ordering, body)
        status, due = policy.initial_status(endpoint, key, message.created_at)
        rows.append(
            {
                "id": ids.new_id(ids.DELIVERY, message.created_at),
                "msg_id": message.id,
                "endpoint_id": endpoint.id,
                "app_id": message.app_id,
                "status": status,
                "next_attempt_at": due,
                "created_at": message.created_at,
                "priority": message.priority,
                "order_key": key,
            }
        )
    return rows


def fan_out(message: Message, endpoints: Sequence[RouteTarget]) -> tuple[list[RouteTarget], object]:
    """The endpoints that get a delivery of ``message``, and its payload if it was parsed."""
    targets = route(endpoints, message.event_type, message.channels)
    body: object = None
    if any(t.filter_text is not None or t.controls.ordering is not None for t in targets):
        # Parsed once, only when a filter or an ordering key needs to look inside.
        body = parse_payload(message.payload)
        targets = route_payload(targets, body, message.headers)
    return targets, body


def parse_payload(payload: bytes) -> object:
    """The payload as JSON values (None if it is not JSON: filters then see nothing)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


class FanOut(SqlBase):
    """Storing messages and their deliveries, with each application's routing cached."""

    def __init__(self, dialect: Dialect, secret_box: SecretBox) -> None:
        super().__init__(dialect, secret_box)
        # Each application's routing, by app id, with the routes_version it was read at:
        # valid while the database holds the same number (migration 0006's triggers).
        self._routes: dict[str, tuple[int, tuple[RouteTarget, ...]]] = {}
        self._routes_held = 0  # targets in _routes, all applications together

    def _store_messages(
        self, conn: Connection, messages: Sequence[Message], versions: Mapping[str, int | None]
    ) -> dict[str, int]:
        """Insert messages and fan them out (``versions``: each application's routing
        version, None to read the routing afresh); the deliveries made per message id."""
        if not messages:
            return {}
        try:
            self._executemany(conn, "insert_message", [message_params(m) for m in messages])
        except Exception as error:
            if not self.dialect.is_unique_violation(error):
                raise
            taken = ", ".join(repr(m.event_id) for m in messages if m.event_id is not None)
            raise ConflictError(f"a message with eventId {taken} already exists") from None
        routes: dict[str, tuple[RouteTarget, ...]] = {}
        rows: list[dict[str, Any]] = []
        chosen: list[RouteTarget] = []
        counts: dict[str, int] = {}
        for message in messages:
            app_id = message.app_id
            if app_id not in routes:
                routes[app_id] = self._routes_of(conn, app_id, versions.get(app_id))
            targets, body = fan_out(message, routes[app_id])
            rows.extend(delivery_rows(message, targets, body))
            chosen.extend(targets)
            counts[message.id] = len(targets)
            if len(rows) >= DELIVERY_ROWS_PER_INSERT:
                # A batch of messages to applications with thousands of endpoints each
                # must not build millions of rows in memory before the first insert.
                self._insert_deliveries(conn, rows, chosen, message.created_at)
                rows, chosen = [], []
        self._insert_deliveries(conn, rows, chosen, messages[-1].created_at)
        return counts

    def _insert_deliveries(
        self, conn: Connection, rows: list[dict[str, Any]], targets: Sequence[RouteTarget],
        now: float,
    ) -> None:  # fmt: skip
        """Insert fan-out's rows, then choose FIFO heads and flush full batches."""
        if not rows:
            return
        self._executemany(conn, "insert_delivery", rows)
        fifo = sorted({(r["endpoint_id"], r["order_key"]) for r in rows if r["status"] == "queued"})
        if fifo:
            # Concurrent publishers to one FIFO endpoint take turns here (PostgreSQL), so
            # each sees the other's queue when choosing the head.
            self._lock_states(conn, sorted({ep for ep, _ in fifo}))
            self._promote(conn, fifo, now)
        flushed = set()
        for target in targets:
            if target.controls.batching is not None and target.id not in flushed:
                flushed.add(target.id)
                self._flush_full_batch(conn, target, now)
        self.dialect.on_publish(conn)

    def _flush_full_batch(self, conn: Connection, target: RouteTarget, now: float) -> None:
        """A batching endpoint with a full batch waiting gets it now, not at its deadline."""
        batching = target.controls.batching
        assert batching is not None
        window = {"endpoint_id": target.id, "since": now - batching.max_wait - 1.0, "now": now}
        row = self._one(conn, "batch_ready", window)
        if row is not None and int(row["waiting"]) >= batching.max_size:
            conn.execute(self.q("batch_flush"), window)

    def _lock_states(
        self, conn: Connection, endpoint_ids: Sequence[str], wait: bool = True
    ) -> set[str]:
        """Make sure the endpoints have a state row, and (PostgreSQL) lock them.

        Without ``wait``, rows another transaction holds are skipped: the endpoints
        whose rows are now locked (on SQLite, the one writer, all of them) are returned.
        """
        ids_json = dumps(list(endpoint_ids))
        conn.execute(self.q("ensure_endpoint_state"), {"ids": ids_json})
        query = "lock_endpoint_states" if wait else "try_lock_endpoint_states"
        if query not in self.dialect.queries:
            return set(endpoint_ids)
        return {r["endpoint_id"] for r in self._all(conn, query, {"ids": ids_json})}

    def _promote_all(self, conn: Connection, endpoint_id: str, now: float) -> None:
        """Let the head of every FIFO key of the endpoint go."""
        found = self._all(conn, "fifo_keys_of_endpoint", {"endpoint_id": endpoint_id})
        self._promote(conn, [(endpoint_id, r["order_key"]) for r in found], now)

    def _promote(self, conn: Connection, keys: Sequence[tuple[str, str]], now: float) -> None:
        if keys:
            self._executemany(
                conn, "fifo_promote",
                [{"endpoint_id": ep, "order_key": key, "now": now} for ep, key in keys],
            )  # fmt: skip

    def _routes_of(
        self, conn: Connection, app_id: str, version: int | None
    ) -> tuple[RouteTarget, ...]:
        """The application's routing: from memory while ``version`` (the application's
        routes_version, read in this transaction) is the one it was read at."""
        cached = self._routes.get(app_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        targets = tuple(self._route_targets(conn, app_id))
        if version is not None:
            if cached is not None:
                self._routes_held -= len(cached[1])
            if self._routes_held + len(targets) > MAX_CACHED_TARGETS:
                self._routes.clear()
                self._routes_held = 0
            self._routes[app_id] = (version, targets)
            self._routes_held += len(targets)
        return targets

    def _route_targets(self, conn: Connection, app_id: str) -> list[RouteTarget]:
        return [
            RouteTarget(
                id=r["id"],
                disabled=bool(r["disabled"]),
                filter_types=as_tuple(r["filter_types"]),
                channels=as_tuple(r["channels"]),
                paused=bool(r["paused"]),
                controls=controls_of(r["controls"]),
                circuit_open=r["circuit"] is not None and r["circuit"] != CircuitState.CLOSED,
                filter_text=filter_text_of(r["controls"]),
            )
            for r in self._all(conn, "route_targets", {"app_id": app_id})
        ]

    def _publish_operational(
        self, conn: Connection, events: Sequence[dict[str, Any]], now: float
    ) -> None:
        """Publish operational events to the operator's endpoints (if there are any)."""
        if not events or self._one(conn, "has_operational_endpoints", {}) is None:
            return
        for event in events:
            message = Message(
                id=ids.new_id(ids.MESSAGE, now), app_id=operational.APP_ID,
                event_type=event["type"], payload=orjson.dumps(event), created_at=now,
            )  # fmt: skip
            self._store_messages(conn, [message], {})  # rare: its routing is read each time
