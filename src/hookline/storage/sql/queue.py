"""The delivery queue: claims under a lease, admission (FIFO heads, gates, pace, in-flight
caps), batch fills, circuit probes, releases.

A claim runs in three steps, each one statement over a JSON answer: choose due
candidates (``claim_ids``), admit those that may go now (``_admit``: the rest are put
where they belong), then lease the admitted and read what sending them needs
(``claim_details``). The record path (what follows an attempt) is ``recording.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from hookline.domain import circuit as breaker
from hookline.domain import pacing
from hookline.domain.circuit import Circuit, CircuitState
from hookline.storage.records import ClaimedDelivery
from hookline.storage.sql._core import Connection, dumps, reads, writes
from hookline.storage.sql.gates import Gates
from hookline.storage.sql.rows import EndpointGate, claimed_from_row

#: A claim looks at this many times its limit of due rows to fill per-endpoint caps.
CLAIM_SCAN_FACTOR = 4


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due delivery a claim may take: its endpoint, and its FIFO key (None if not FIFO)."""

    id: str
    endpoint_id: str
    order_key: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Candidate:
        return cls(id=row["id"], endpoint_id=row["endpoint_id"], order_key=row["order_key"])


class QueueOps(Gates):
    """Claiming, releasing and probing."""

    @writes(urgent=True)
    def claim(
        self,
        conn: Connection,
        worker: str,
        now: float,
        lease_until: float,
        limit: int,
        busy: Mapping[str, int] | None = None,
        per_endpoint: int | None = None,
    ) -> list[ClaimedDelivery]:
        busy = busy or {}
        cap = per_endpoint if per_endpoint is not None else limit
        params = {
            "worker": worker,
            "now": now,
            "lease_until": lease_until,
            "limit": limit,
            "busy": dumps(dict(busy)),
            "cap": cap,
            # Full endpoints are skipped in the scan itself, so the window holds work.
            "exclude": dumps([endpoint for endpoint, n in busy.items() if n >= cap]),
            "scan": limit * CLAIM_SCAN_FACTOR,
        }
        candidates = [Candidate.from_row(r) for r in self._json(conn, "claim_ids", params)]
        if not candidates:
            return []
        send_at: dict[str, float] = {}
        admitted = self._admit(conn, candidates, now, send_at)
        return self._lease(conn, worker, admitted, lease_until, send_at)

    def _lease(
        self, conn: Connection, worker: str, ids: list[str], lease_until: float,
        send_at: Mapping[str, float],
    ) -> list[ClaimedDelivery]:  # fmt: skip
        if not ids:
            return []
        claim = {"ids": dumps(ids), "worker": worker, "lease_until": lease_until}
        conn.execute(self.q("claim_mark"), claim)
        rows = self._json(conn, "claim_details", claim)
        rows.sort(key=lambda r: (r["scheduled_at"], r["id"]))  # oldest due first, as claimed
        return [claimed_from_row(r, self.secret_box, send_at) for r in rows]

    def _gates(self, conn: Connection, endpoint_ids: Iterable[str]) -> dict[str, EndpointGate]:
        found = self._all(conn, "endpoint_controls", {"ids": dumps(sorted(endpoint_ids))})
        return {gate.id: gate for gate in map(EndpointGate.from_row, found)}

    def _admit(
        self, conn: Connection, candidates: list[Candidate], now: float,
        send_at: dict[str, float],
    ) -> list[str]:  # fmt: skip
        """The ids of the candidates that may go now, in their order.

        The rest are put where they belong: FIFO candidates that are not their key's
        head back in the queue, those of a paused or open endpoint to wait, and those
        the endpoint's pace or in-flight cap holds back to their later slot.
        ``send_at`` learns the slot of each admitted candidate of a paced endpoint.
        """
        candidates = self._fifo_heads(conn, candidates, now)
        gates = self._gates(conn, {c.endpoint_id for c in candidates})
        parked: list[str] = []
        by_endpoint: dict[str, list[str]] = {}
        for candidate in candidates:
            gate = gates.get(candidate.endpoint_id)
            if gate is None:
                continue  # the endpoint was deleted (and its deliveries with it)
            if gate.paused or not gate.circuit.lets_through(candidate.id):
                parked.append(candidate.id)
            else:
                by_endpoint.setdefault(candidate.endpoint_id, []).append(candidate.id)
        if parked:
            conn.execute(self.q("park_deliveries"), {"ids": dumps(parked), "now": now})
        paced = sorted(endpoint_id for endpoint_id in by_endpoint if gates[endpoint_id].paced)
        if not paced:
            going = {d for ids_ in by_endpoint.values() for d in ids_}
            return [c.id for c in candidates if c.id in going]
        return self._pace(conn, by_endpoint, paced, now, send_at)

    def _fifo_heads(
        self, conn: Connection, candidates: list[Candidate], now: float
    ) -> list[Candidate]:
        """Drop FIFO candidates with an earlier open delivery of their key (a race of two
        publishers made them due): they go back in the queue, and the true head goes."""
        fifo = [c.id for c in candidates if c.order_key is not None]
        if not fifo:
            return candidates
        behind = self._all(conn, "fifo_earlier_open", {"ids": dumps(fifo)})
        if not behind:
            return candidates
        demoted = {r["id"] for r in behind}
        conn.execute(self.q("fifo_demote"), {"ids": dumps(sorted(demoted))})
        self._promote(conn, sorted({(r["endpoint_id"], r["order_key"]) for r in behind}), now)
        return [c for c in candidates if c.id not in demoted]

    def _pace(
        self, conn: Connection, by_endpoint: dict[str, list[str]], paced: list[str], now: float,
        send_at: dict[str, float],
    ) -> list[str]:  # fmt: skip
        """Admit the candidates of paced endpoints within their rate and in-flight cap."""
        locked = self._lock_states(conn, paced, wait=False)
        # Read again under the lock: another worker's claim may have moved the pace.
        fresh = self._gates(conn, locked)
        capped = [ep for ep, gate in fresh.items() if gate.controls.max_in_flight]
        in_flight: dict[str, int] = {}
        if capped:
            found = self._all(conn, "in_flight", {"ids": dumps(capped), "now": now})
            in_flight = {r["endpoint_id"]: int(r["in_flight"]) for r in found}
        admitted: list[str] = []
        postponed: list[list[Any]] = []
        for endpoint_id, delivery_ids in by_endpoint.items():
            if endpoint_id not in paced:
                admitted.extend(delivery_ids)
                continue
            gate = fresh.get(endpoint_id)
            if gate is None:
                # Another worker is pacing this endpoint right now: look again shortly.
                postponed.extend([d, now + pacing.RECHECK] for d in delivery_ids)
                continue
            admission = pacing.admit(
                len(delivery_ids), gate.rate_limit, gate.pace, now,
                in_flight.get(endpoint_id, 0), gate.controls.max_in_flight,
            )  # fmt: skip
            going = delivery_ids[: len(admission.send_at)]
            admitted.extend(going)
            send_at.update(zip(going, admission.send_at, strict=True))
            waiting = delivery_ids[len(going) :]
            postponed.extend(
                [d, due] for d, due in zip(waiting, admission.postpone_to, strict=True)
            )
            if admission.pace != gate.pace:
                self._save_pace(conn, endpoint_id, admission.pace)
        if postponed:
            conn.execute(self.q("postpone_deliveries"), {"rows": orjson.dumps(postponed).decode()})
        return admitted

    @writes(urgent=True)
    def claim_batch(
        self, conn: Connection, worker: str, endpoint_id: str, since: float,
        exclude: Sequence[str], limit: int, lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        params = {
            "endpoint_id": endpoint_id, "since": since, "exclude": dumps(list(exclude)),
            "limit": limit,
        }  # fmt: skip
        ids = [r["id"] for r in self._all(conn, "batch_fill_ids", params)]
        return self._lease(conn, worker, ids, lease_until, {})

    @writes
    def start_probes(self, conn: Connection, now: float) -> int:
        started = 0
        for due in self._all(conn, "circuits_to_probe", {"now": now}):
            endpoint_id = due["endpoint_id"]
            self._lock_states(conn, [endpoint_id])
            circuit = self._circuits(conn, [endpoint_id]).get(endpoint_id)
            if circuit is None or circuit.state is not CircuitState.OPEN:
                continue  # another worker got here first
            row = self._one(conn, "first_waiting", {"endpoint_id": endpoint_id})
            if row is None:
                # Nothing waits, so there is nothing to probe with: close, and let new
                # work find out afresh (the breaker opens again if it still fails).
                self._save_circuit(conn, endpoint_id, Circuit(window_start=now))
                continue
            probe_id = row["id"]
            conn.execute(self.q("make_probe"), {"id": probe_id, "now": now})
            self._save_circuit(conn, endpoint_id, breaker.probe(circuit, probe_id))
            started += 1
        if started:
            self.dialect.on_publish(conn)
        return started

    @writes
    def release(self, conn: Connection, worker: str, delivery_ids: Sequence[str]) -> None:
        if delivery_ids:
            self._executemany(
                conn, "release_delivery", [{"id": i, "worker": worker} for i in delivery_ids]
            )

    @reads
    def next_due(self, conn: Connection) -> float | None:
        row = self._one(conn, "next_due", {})
        return None if row is None or row["due"] is None else float(row["due"])
