"""The record path: what follows an attempt, written in the transaction of its outcome.

Attempts, delivery states, endpoint health, automatic disabling (with its audit
entry), operational webhooks, circuit breakers and 429 slow-downs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from hookline.domain import circuit as breaker
from hookline.domain import ids, operational, pacing
from hookline.domain.audit import AuditEntry
from hookline.domain.circuit import CircuitState
from hookline.domain.models import DeliveryStatus
from hookline.storage.records import Outcome
from hookline.storage.sql._core import Connection, dumps, writes
from hookline.storage.sql.audit import AuditTrail
from hookline.storage.sql.gates import Gates
from hookline.storage.sql.params import attempt_row
from hookline.storage.sql.rows import pace_from_row


def _iso(at: float) -> str:
    """A stored time as Svix writes times in payloads (ISO 8601, UTC)."""
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


class RecordingOps(Gates, AuditTrail):
    """``record`` and what it sets off."""

    @writes
    def record(
        self, conn: Connection, worker: str, outcomes: Sequence[Outcome], now: float
    ) -> None:
        attempts = [attempt_row(o.attempt) for o in outcomes if o.attempt is not None]
        if attempts:
            conn.execute(self.q("insert_attempts"), {"rows": orjson.dumps(attempts).decode()})
        finished = [
            [o.delivery_id, str(o.status), int(o.attempt is not None), o.next_attempt_at]
            for o in outcomes
        ]
        conn.execute(
            self.q("finish_deliveries"),
            {"rows": orjson.dumps(finished).decode(), "worker": worker, "now": now},
        )
        # One health update per endpoint per batch: the last outcome is the news.
        health: dict[str, str] = {}
        for o in outcomes:
            if o.endpoint_health is not None:
                health[o.endpoint_id] = o.endpoint_health
        ok = sorted(ep for ep, state in health.items() if state == "ok")
        failing = sorted(ep for ep, state in health.items() if state == "failing")
        if ok:
            conn.execute(self.q("endpoint_succeeded"), {"ids": dumps(ok)})
        if failing:
            conn.execute(self.q("endpoint_failed"), {"ids": dumps(failing), "now": now})
        disabled = []
        for endpoint_id in sorted({o.endpoint_id for o in outcomes if o.disable_endpoint}):
            if conn.execute(self.q("endpoint_disable"), {"id": endpoint_id, "now": now}).rowcount:
                disabled.append(endpoint_id)
                app_id = next(o.attempt.app_id for o in outcomes if o.endpoint_id == endpoint_id
                              and o.attempt is not None)  # fmt: skip
                # The trail shows the worker's change too, not only the operator's.
                self._audit(
                    conn,
                    AuditEntry(
                        id=ids.new_id(ids.AUDIT, now), app_id=app_id, actor="hookline-worker",
                        action="endpoint.disabled.automatic", resource_type="endpoint",
                        resource_id=endpoint_id, before={"disabled": False},
                        after={"disabled": True}, created_at=now,
                    ),
                )  # fmt: skip
            conn.execute(self.q("hold_endpoint_backlog"), {"endpoint_id": endpoint_id, "now": now})
        self._operational_outcomes(conn, outcomes, disabled, now)
        self._observe_circuits(conn, outcomes, now)
        self._throttle(conn, outcomes, now)
        retries = [o.delivery_id for o in outcomes if o.status == DeliveryStatus.PENDING]
        if retries:
            # A retry of an endpoint paused or opened meanwhile waits with the rest.
            conn.execute(self.q("park_gated"), {"ids": dumps(retries)})
        heads_done = {
            (o.endpoint_id, o.order_key)
            for o in outcomes
            if o.order_key is not None and o.status != DeliveryStatus.PENDING
        }
        if heads_done:
            self._promote(conn, sorted(heads_done), now)

    def _operational_outcomes(
        self, conn: Connection, outcomes: Sequence[Outcome], disabled: list[str], now: float
    ) -> None:
        """The operational events of a batch of outcomes: attempts failing, exhausted or
        recovered, and endpoints the worker disabled."""
        noted = []
        app_of: dict[str, str] = {}
        for o in outcomes:
            if o.attempt is None or o.attempt.app_id == operational.APP_ID:
                continue  # operational webhooks do not report on themselves
            app_of[o.endpoint_id] = o.attempt.app_id
            event_type = operational.attempt_event_type(
                o.attempt_number, o.status == DeliveryStatus.SUCCESS,
                o.status == DeliveryStatus.FAILED,
            )  # fmt: skip
            if event_type is not None:
                noted.append((event_type, o.attempt))
        disabled = [ep for ep in disabled if ep in app_of]
        if not noted and not disabled:
            return
        if self._one(conn, "has_operational_endpoints", {}) is None:
            return
        msg_ids = dumps([attempt.msg_id for _, attempt in noted])
        context = {
            r["msg_id"]: (r["app_uid"], r["event_id"])
            for r in self._all(conn, "operational_context", {"ids": msg_ids})
        }
        events = []
        for event_type, attempt in noted:
            app_uid, event_id = context.get(attempt.msg_id, (None, None))
            events.append(
                operational.attempt_event(
                    event_type,
                    attempt.app_id,
                    app_uid,
                    attempt.msg_id,
                    event_id,
                    attempt.endpoint_id,
                    attempt.id,
                    attempt.response_status_code,
                    _iso(attempt.created_at),
                )
            )
        for r in self._all(conn, "endpoint_uids", {"ids": dumps(disabled)}) if disabled else []:
            fail_since = None if r["failing_since"] is None else _iso(r["failing_since"])
            events.append(
                operational.endpoint_disabled_automatically(
                    app_of[r["id"]], r["app_uid"], r["id"], r["uid"], fail_since
                )
            )
        self._publish_operational(conn, events, now)

    def _observe_circuits(self, conn: Connection, outcomes: Sequence[Outcome], now: float) -> None:
        """Count outcomes into their endpoints' circuit breakers, opening or closing them."""
        counted: dict[str, list[Outcome]] = {}
        for o in outcomes:
            if o.breaker is not None and o.tripped is not None:
                counted.setdefault(o.endpoint_id, []).append(o)
        if not counted:
            return
        self._lock_states(conn, sorted(counted))
        circuits = self._circuits(conn, sorted(counted))
        for endpoint_id, batch in counted.items():
            before = circuits.get(endpoint_id, breaker.CLOSED)
            failed = sum(1 for o in batch if o.tripped)
            probe = next((o for o in batch if o.delivery_id == before.probe_id), None)
            config = batch[0].breaker
            assert config is not None
            after = breaker.observe(
                before, config, now, len(batch) - failed, failed,
                None if probe is None else not probe.tripped,
            )  # fmt: skip
            if after == before:
                continue
            self._save_circuit(conn, endpoint_id, after)
            if after.state is CircuitState.OPEN and before.state is CircuitState.CLOSED:
                conn.execute(self.q("park_endpoint"), {"endpoint_id": endpoint_id, "now": now})
            elif after.state is CircuitState.CLOSED and before.state is not CircuitState.CLOSED:
                row = self._one(conn, "endpoint_controls", {"ids": dumps([endpoint_id])})
                if row is not None and not row["paused"]:
                    self._unpark(conn, endpoint_id, now)

    def _throttle(self, conn: Connection, outcomes: Sequence[Outcome], now: float) -> None:
        """Slow down the endpoints that answered 429 (the last such answer of each)."""
        throttled = {o.endpoint_id: o for o in outcomes if o.throttled is not None}
        if not throttled:
            return
        self._lock_states(conn, sorted(throttled))
        found = self._all(conn, "endpoint_controls", {"ids": dumps(sorted(throttled))})
        for row in found:
            endpoint_id = row["id"]
            o = throttled[endpoint_id]
            pace = pace_from_row(row)
            # The worker saw only its own share of the traffic: the attempts every
            # worker made in the last second (this batch's included) are the rate to halve.
            since = ids.floor_id(ids.ATTEMPT, now - 1.0)
            counted = self._one(
                conn, "recent_attempts", {"endpoint_id": endpoint_id, "since": since}
            )
            observed = max(
                o.observed_rate, float(counted["attempts"]) if counted is not None else 0.0
            )
            slower = pacing.throttled(row["rate_limit"], pace, now, observed, o.throttled)
            self._save_pace(conn, endpoint_id, slower)
