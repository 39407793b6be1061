"""The record path: what follows an attempt, written in the transaction of its outcome.

Attempts, delivery states, endpoint health, automatic disabling (with its audit
entry), operational webhooks, circuit breakers and 429 slow-downs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from hookline.domain import circuit as breaker
from hookline.domain import ids, operational, pacing, policy
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
        disabling = {o.endpoint_id: o.disabled for o in reversed(outcomes) if o.disabled}
        for endpoint_id in sorted(disabling):
            if conn.execute(self.q("endpoint_disable"), {"id": endpoint_id, "now": now}).rowcount:
                disabled.append(endpoint_id)
                self._audit(conn, disabling[endpoint_id])
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
        """Publish the operational events the outcomes name (attempts failing, exhausted or
        recovered; endpoints the worker ``disabled`` now), with the names storage holds."""
        noted = []
        app_of: dict[str, str] = {}
        for o in outcomes:
            if o.attempt is None:
                continue
            for event_type in o.operational:
                if event_type == operational.ENDPOINT_DISABLED:
                    app_of[o.endpoint_id] = o.attempt.app_id
                else:
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
            if o.circuit is not None:
                counted.setdefault(o.endpoint_id, []).append(o)
        if not counted:
            return
        self._lock_states(conn, sorted(counted))
        circuits = self._circuits(conn, sorted(counted))
        for endpoint_id, batch in counted.items():
            before = circuits.get(endpoint_id, breaker.CLOSED)
            change = policy.circuit_after(before, batch, now)
            if change.after == before:
                continue
            self._save_circuit(conn, endpoint_id, change.after)
            if change.park:
                conn.execute(self.q("park_endpoint"), {"endpoint_id": endpoint_id, "now": now})
            elif change.unpark:
                row = self._one(conn, "endpoint_controls", {"ids": dumps([endpoint_id])})
                if row is not None and not row["paused"]:
                    self._unpark(conn, endpoint_id, now)

    def _throttle(self, conn: Connection, outcomes: Sequence[Outcome], now: float) -> None:
        """Slow down the endpoints that answered 429 (the last such answer of each)."""
        throttled = {o.endpoint_id: o.throttle for o in outcomes if o.throttle is not None}
        if not throttled:
            return
        self._lock_states(conn, sorted(throttled))
        found = self._all(conn, "endpoint_controls", {"ids": dumps(sorted(throttled))})
        for row in found:
            endpoint_id = row["id"]
            throttle = throttled[endpoint_id]
            pace = pace_from_row(row)
            # The worker saw only its own share of the traffic: the attempts every
            # worker made in the last second (this batch's included) are the rate to halve.
            since = ids.floor_id(ids.ATTEMPT, now - 1.0)
            counted = self._one(
                conn, "recent_attempts", {"endpoint_id": endpoint_id, "since": since}
            )
            observed = max(
                throttle.observed_rate, float(counted["attempts"]) if counted is not None else 0.0
            )
            slower = pacing.throttled(row["rate_limit"], pace, now, observed, throttle.retry_after)
            self._save_pace(conn, endpoint_id, slower)
