"""Plans, applications' plans, and the quotas a publish takes in its own transaction."""

from __future__ import annotations

from typing import Any

from hookline.domain import plans
from hookline.domain.plans import Plan, QuotaExceededError
from hookline.errors import ConflictError, NotFoundError
from hookline.storage.records import UsageFigure
from hookline.storage.sql._core import Connection, Row, SqlBase, dumps, loads, reads, writes


def limits_of(row: Row) -> dict[str, Any] | None:
    """An application's effective limits from its publish row (None: it has no plan)."""
    if row["plan"] is None and row["plan_overrides"] is None:
        return None
    return plans.effective(loads(row["plan_limits"]), loads(row["plan_overrides"]))


class QuotaGate(SqlBase):
    """Counting a message against its application's quotas, or refusing it."""

    def _take_quotas(
        self, conn: Connection, app_id: str, limits: dict[str, Any], now: float
    ) -> QuotaExceededError | None:
        """Count one message in each quota period; over a quota, give back what was
        taken and answer the refusal (nothing of the message is stored)."""
        taken: list[str] = []
        for quota in plans.quotas(limits, now):
            row = self._one(conn, "usage_add", {"app_id": app_id, "period": quota.period, "n": 1})
            taken.append(quota.period)
            if row is not None and int(row["messages"]) > quota.limit:
                for period in taken:
                    conn.execute(self.q("usage_add"), {"app_id": app_id, "period": period, "n": -1})
                return QuotaExceededError(quota.name, quota.limit, quota.resets_at, now)
        return None


def _plan_of(row: Row) -> Plan:
    return Plan(
        name=row["name"], limits=loads(row["limits"]), created_at=row["created_at"],
        updated_at=row["updated_at"],
    )  # fmt: skip


class PlanOps(SqlBase):
    """Plans and the plan each application takes."""

    @writes
    def put_plan(self, conn: Connection, plan: Plan, now: float) -> Plan:
        conn.execute(
            self.q("upsert_plan"), {"name": plan.name, "limits": dumps(plan.limits), "now": now}
        )
        return self.get_plan(conn, plan.name)

    @reads
    def get_plan(self, conn: Connection, name: str) -> Plan:
        return _plan_of(self._get(conn, "get_plan", {"name": name}, f"plan {name!r}"))

    @reads
    def list_plans(self, conn: Connection) -> list[Plan]:
        return [_plan_of(r) for r in self._all(conn, "all_plans", {})]

    @writes
    def delete_plan(self, conn: Connection, name: str) -> None:
        self.get_plan(conn, name)
        if self._one(conn, "plan_in_use", {"name": name}) is not None:
            raise ConflictError(f"plan {name!r} is an application's plan: move them first")
        conn.execute(self.q("delete_plan"), {"name": name})

    @writes
    def set_application_plan(
        self, conn: Connection, app_id: str, plan: str | None,
        overrides: dict[str, Any] | None, now: float,
    ) -> None:  # fmt: skip
        if plan is not None:
            self.get_plan(conn, plan)
        changed = conn.execute(
            self.q("set_application_plan"),
            {"id": app_id, "plan": plan, "overrides": dumps(overrides), "now": now},
        ).rowcount
        if not changed:
            raise NotFoundError(f"application {app_id!r} not found")

    @reads
    def application_usage(
        self, conn: Connection, app_id: str, now: float
    ) -> tuple[str | None, dict[str, Any], list[UsageFigure]]:
        row = self._get(conn, "application_plan", {"id": app_id}, f"application {app_id!r}")
        limits = plans.effective(loads(row["plan_limits"]), loads(row["plan_overrides"]))
        found = plans.periods(now)
        used = {
            r["period"]: int(r["messages"])
            for r in self._all(
                conn, "usage_of", {"app_id": app_id, "periods": dumps([p for _, p, _ in found])}
            )
        }
        figures = [
            UsageFigure(
                quota=name, period=period, used=used.get(period, 0),
                limit=None if limits.get(name) is None else int(limits[name]), resets_at=resets,
            )
            for name, period, resets in found
        ]  # fmt: skip
        return row["plan"], loads(row["plan_overrides"]) or {}, figures
