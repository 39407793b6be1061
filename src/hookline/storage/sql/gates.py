"""An endpoint's gates: its circuit breaker and its pace, and letting parked work go."""

from __future__ import annotations

from collections.abc import Sequence

from hookline.domain import pacing
from hookline.domain.circuit import Circuit
from hookline.storage.sql._core import Connection, dumps
from hookline.storage.sql.fanout import FanOut
from hookline.storage.sql.rows import circuit_from_row


class Gates(FanOut):
    """Reading and saving circuits and paces (endpoint_state rows)."""

    def _circuits(self, conn: Connection, endpoint_ids: Sequence[str]) -> dict[str, Circuit]:
        rows = self._all(conn, "get_circuits", {"ids": dumps(list(endpoint_ids))})
        return {r["endpoint_id"]: circuit_from_row(r) for r in rows}

    def _save_circuit(self, conn: Connection, endpoint_id: str, c: Circuit) -> None:
        conn.execute(
            self.q("save_circuit"),
            {
                "endpoint_id": endpoint_id, "circuit": str(c.state), "since": c.since,
                "probe_at": c.probe_at, "probe_id": c.probe_id, "cooldown": c.cooldown,
                "window_start": c.window_start, "window_total": c.window_total,
                "window_failed": c.window_failed,
            },
        )  # fmt: skip

    def _save_pace(self, conn: Connection, endpoint_id: str, pace: pacing.Pace) -> None:
        conn.execute(
            self.q("save_pace"),
            {
                "endpoint_id": endpoint_id, "tat": pace.tat, "throttled_at": pace.throttled_at,
                "throttled_rate": pace.throttled_rate,
            },
        )  # fmt: skip

    def _unpark(self, conn: Connection, endpoint_id: str, now: float) -> None:
        """Let an endpoint's waiting work go (resumed, or its circuit closed)."""
        conn.execute(self.q("unpark_endpoint"), {"endpoint_id": endpoint_id, "now": now})
        self._promote_all(conn, endpoint_id, now)
        self.dialect.on_publish(conn)
