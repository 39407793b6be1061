"""The run's report: a table for people, a JSON document for tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.plan import Plan
from chaos.proofs import Verdict
from chaos.receiver import STATUS_OF


@dataclass
class RunFacts:
    """What happened during the run, beside what the proofs found."""

    shape: str = ""
    kills: list[str] = field(default_factory=list)
    #: The faults, in seconds from the start of the load.
    timeline: list[str] = field(default_factory=list)
    restarts: int = 0
    #: Processes that exited or hung by themselves (each one a failure).
    failed_processes: int = 0
    postgres_restarts: int = 0
    postgres_down_seconds: float = 0.0
    publish_retries: dict[str, int] = field(default_factory=dict)
    publish_replayed: int = 0
    publish_found_after_conflict: int = 0
    publish_new_keys: int = 0
    drain_seconds: float = 0.0
    run_seconds: float = 0.0
    workdir: str = ""


def table(plan: Plan, facts: RunFacts, verdict: Verdict) -> str:
    """The report as aligned text."""
    answers = " · ".join(f"{kind} {verdict.answers.get(kind, 0)}" for kind in STATUS_OF)
    in_flight = ", ".join(str(n) for n in verdict.in_flight_at_kills) or "-"
    kills = _kills_text(facts.kills)
    restarts = f"{facts.restarts} hookline"
    if facts.postgres_restarts:
        restarts += (
            f", PostgreSQL {facts.postgres_restarts} (down {facts.postgres_down_seconds:.1f} s)"
        )
    publish = (
        f"{sum(facts.publish_retries.values())} retried calls, {facts.publish_replayed} "
        f"replayed, {facts.publish_found_after_conflict} found after 409, "
        f"{facts.publish_new_keys} new keys"
    )
    rows = [
        ("backend", f"{plan.backend}: {facts.shape}"),
        ("seed", str(plan.seed)),
        ("messages", f"{verdict.messages} published, {verdict.stored} stored"),
        ("deliveries", f"{verdict.deliveries} routed, {verdict.delivered} got a 2xx, "
                       f"{verdict.dead_lettered} dead-lettered"),
        ("publishing", publish),
        ("requests seen", str(verdict.requests)),
        ("attempts logged", str(verdict.attempts)),
        ("answers by kind", answers),
        ("kills", kills),
        ("restarts", restarts),
        ("failed by themselves", f"{facts.failed_processes}  (must be 0)"),
        ("in flight at kills", in_flight),
        ("duplicates", f"{verdict.duplicates} messages got a 2xx twice or more: "
                       f"{verdict.extra_deliveries} extra 2xx, "
                       f"{verdict.duplicates_from_crashes} from crashes, "
                       f"{verdict.duplicates_from_outages} from the outage"),
        ("duplicate bounds", f"{verdict.duplicates_from_crashes} from crashes <= "
                             f"{sum(verdict.in_flight_at_kills)} in flight at the kills; "
                             f"{verdict.extra_deliveries} in all <= {verdict.duplicate_bound} "
                             f"= {verdict.bound_formula}"),
        ("delivered at once twice", f"{verdict.concurrent}  (must be 0)"),
        ("lost", f"{verdict.lost}  (must be 0)"),
        ("mismatches", f"{verdict.mismatches}  (must be 0)"),
        ("drain", f"{facts.drain_seconds:.1f} s"),
        ("run time", f"{facts.run_seconds:.1f} s"),
        ("verdict", "PASS" if verdict.passed else "FAIL"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    for failure in verdict.failures:
        lines.append(f"FAILED: {failure}")
    if verdict.unattributed:
        lines.append(f"note: {verdict.unattributed} unrecorded requests had no known sender")
    lines += [f"note: {note}" for note in verdict.notes[:10]]
    if facts.workdir:
        lines.append(f"logs: {facts.workdir}")
    return "\n".join(lines)


def _kills_text(names: list[str]) -> str:
    """``3 (serve-0 x3)``: how many kills, of which processes."""
    if not names:
        return "0"
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return f"{len(names)} ({', '.join(f'{n} x{c}' for n, c in sorted(counts.items()))})"


def as_json(plan: Plan, facts: RunFacts, verdict: Verdict) -> dict[str, Any]:
    """The report as one JSON-ready document."""
    plan_fields = asdict(plan)
    plan_fields["workdir"] = str(plan.workdir) if plan.workdir else None
    return {
        "passed": verdict.passed,
        "plan": plan_fields,
        "facts": asdict(facts),
        "verdict": {**asdict(verdict), "answers": dict(verdict.answers)},
    }
