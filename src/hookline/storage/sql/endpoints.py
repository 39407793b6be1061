"""Endpoints: their configuration, pause and resume, and where their delivery stands."""

from __future__ import annotations

from dataclasses import replace

from hookline.domain import circuit as breaker
from hookline.domain import pacing
from hookline.domain.audit import AuditEntry
from hookline.domain.circuit import CircuitState
from hookline.domain.models import Endpoint, Page
from hookline.storage.records import Cursor, DeliveryState
from hookline.storage.sql._core import Connection, page, reads, writes
from hookline.storage.sql.audit import AuditTrail
from hookline.storage.sql.gates import Gates
from hookline.storage.sql.params import endpoint_params
from hookline.storage.sql.rows import circuit_from_row, endpoint_from_row, pace_from_row

#: What deleting an endpoint deletes, children first.
_ENDPOINT_DATA = (
    "delete_endpoint_attempts", "delete_endpoint_deliveries", "delete_endpoint_state",
    "delete_endpoint_consumers", "delete_endpoint",
)  # fmt: skip


class EndpointOps(Gates, AuditTrail):
    """Endpoints and their pause."""

    @writes
    def create_endpoint(
        self, conn: Connection, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint:
        what = f"an endpoint with uid {endpoint.uid!r}" if endpoint.uid else "the endpoint"
        params = endpoint_params(endpoint, self.secret_box)
        self._change(conn, "insert_endpoint", params, what, audit)
        return endpoint

    @reads
    def get_endpoint(self, conn: Connection, app_id: str, key: str) -> Endpoint:
        row = self._get(conn, "get_endpoint", {"app_id": app_id, "key": key}, f"endpoint {key!r}")
        return endpoint_from_row(row, self.secret_box)

    @reads
    def list_endpoints(
        self, conn: Connection, app_id: str, cursor: Cursor, destinations: bool | None = None
    ) -> Page[Endpoint]:
        found = self._list(
            conn, "list_endpoints", cursor, app_id=app_id, any_kind=int(destinations is None),
            destinations=int(bool(destinations)),
        )  # fmt: skip
        rows = [endpoint_from_row(r, self.secret_box) for r in found]
        return page(rows, cursor.limit, lambda e: e.id, cursor)

    @writes
    def update_endpoint(
        self, conn: Connection, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint:
        previous = self.get_endpoint(conn, endpoint.app_id, endpoint.id)
        params = endpoint_params(endpoint, self.secret_box)
        self._insert(conn, "update_endpoint", params, f"an endpoint with uid {endpoint.uid!r}")
        if endpoint.disabled and not previous.disabled:
            conn.execute(
                self.q("hold_endpoint_backlog"),
                {"endpoint_id": endpoint.id, "now": endpoint.updated_at},
            )
        if endpoint.paused != previous.paused:
            self._pause_changed(conn, endpoint, endpoint.updated_at)
        self._audit(conn, audit)
        return endpoint

    @writes
    def set_paused(
        self, conn: Connection, app_id: str, key: str, paused: bool, now: float,
        audit: AuditEntry | None = None,
    ) -> Endpoint:  # fmt: skip
        endpoint = self.get_endpoint(conn, app_id, key)
        if endpoint.paused == paused:
            return endpoint
        conn.execute(self.q("set_paused"), {"id": endpoint.id, "paused": int(paused), "now": now})
        changed = replace(endpoint, paused=paused, updated_at=now)
        self._pause_changed(conn, changed, now)
        self._audit(conn, audit)
        return changed

    def _pause_changed(self, conn: Connection, endpoint: Endpoint, now: float) -> None:
        """Park the endpoint's due work when paused; let it go (if its circuit is closed too)
        when resumed."""
        if endpoint.paused:
            conn.execute(self.q("park_endpoint"), {"endpoint_id": endpoint.id, "now": now})
            return
        circuit = self._circuits(conn, [endpoint.id]).get(endpoint.id, breaker.CLOSED)
        if circuit.state is CircuitState.CLOSED:
            self._unpark(conn, endpoint.id, now)
        else:
            # A probe chosen while paused was parked again: probe afresh, now.
            self._save_circuit(
                conn, endpoint.id, replace(circuit, state=CircuitState.OPEN, probe_at=now)
            )

    @reads
    def delivery_state(self, conn: Connection, app_id: str, key: str, now: float) -> DeliveryState:
        endpoint = self.get_endpoint(conn, app_id, key)
        row = self._one(conn, "endpoint_state", {"endpoint_id": endpoint.id, "now": now})
        assert row is not None  # one row, whether or not the endpoint has state yet
        pace = pace_from_row(row)
        rate = pacing.effective_rate(endpoint.rate_limit, pace, now)
        return DeliveryState(
            paused=endpoint.paused, circuit=circuit_from_row(row), rate_limit=endpoint.rate_limit,
            effective_rate=rate,
            throttled_at=pace.throttled_at if rate != endpoint.rate_limit else None,
            next_slot_at=pace.tat if pace.tat > now else None,
            waiting=int(row["waiting"]), queued=int(row["queued"]),
            in_flight=int(row["in_flight"]),
        )  # fmt: skip

    @writes
    def delete_endpoint(
        self, conn: Connection, app_id: str, endpoint_id: str, audit: AuditEntry | None = None
    ) -> None:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        for query in _ENDPOINT_DATA:
            conn.execute(self.q(query), {"id": endpoint.id})
        self._audit(conn, audit)
