"""``python -m chaos``: the fault harness's command line.

Short mode (the default, as CI runs it): a few hundred messages, three kills, a
run of 20-40 s. ``--long``: thousands of messages and twenty kills over a few
minutes. The exit status is 0 when every property holds, 1 when one fails, and
2 when the run itself could not be carried out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType

from chaos import broker_mode
from chaos.plan import Plan
from chaos.postgres import DEFAULT_SERVER_URL
from chaos.receiver import DEFAULT_MIX
from chaos.report import as_json, table
from chaos.run import remove_workdir, run
from chaos.sinks import KINDS

#: The long mode's sizes (the short mode's are the ``Plan`` defaults); fewer 429s, so that
#: hookline's slowing down for them does not outlast the run.
LONG = {
    "messages": 4000, "kills": 20, "duration": 150.0, "endpoints": 5, "drain_timeout": 240.0,
    "mix": {**DEFAULT_MIX, "ok": DEFAULT_MIX["ok"] + 0.25, "429": 0.25},
}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> tuple[Plan, argparse.Namespace]:
    """The command line: the run's :class:`Plan`, and the options about its output."""
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Fault harness: publish through crashes, then prove nothing was lost.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--long", action="store_true", help="the long mode: minutes, not seconds")
    parser.add_argument("--seed", type=int, default=1, help="seeds faults, answers and load")
    parser.add_argument("--messages", type=int, help="messages to publish (300; long 4000)")
    parser.add_argument("--kills", type=int, help="kill -9 of hookline processes (3; long 20)")
    parser.add_argument(
        "--duration", type=float, help="seconds of publishing, when kills happen (8; long 150)"
    )
    parser.add_argument(
        "--restart-postgres", action="store_true", help="restart the PostgreSQL server mid-run"
    )
    parser.add_argument("--endpoints", type=int, help="endpoints, one path each (3; long 5)")
    parser.add_argument(
        "--database-url",
        default="",
        help="postgres: run on this database (fresh, or it gets confused with old rows)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HOOKLINE_TEST_POSTGRES_URL") or DEFAULT_SERVER_URL,
        help="postgres: the server to make a fresh database on (default "
        "$HOOKLINE_TEST_POSTGRES_URL or %(default)s)",
    )
    parser.add_argument(
        "--brokers",
        default="",
        help="broker mode: deliver to these (comma-separated, of "
        + ", ".join(KINDS)
        + ") instead of the HTTP receiver, and prove each got every message",
    )
    parser.add_argument("--http-client", choices=("pyreqwest", "aiohttp"), default="pyreqwest")
    parser.add_argument("--workdir", type=Path, help="where logs and the SQLite file go")
    parser.add_argument("--keep", action="store_true", help="keep the work directory on success")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    plan = Plan(
        backend=args.backend, seed=args.seed, restart_postgres=args.restart_postgres,
        database_url=args.database_url, postgres_url=args.postgres_url,
        http_client=args.http_client, workdir=args.workdir, long=args.long,
        brokers=tuple(b.strip() for b in args.brokers.split(",") if b.strip()),
    )  # fmt: skip
    unknown = [b for b in plan.brokers if b not in KINDS]
    if unknown:
        parser.error(f"--brokers: unknown {', '.join(unknown)} (known: {', '.join(KINDS)})")
    if args.long:
        plan = replace(plan, **LONG)  # type: ignore[arg-type]
    for name in ("messages", "kills", "duration", "endpoints"):
        if getattr(args, name) is not None:
            plan = replace(plan, **{name: getattr(args, name)})
    if plan.restart_postgres and plan.backend != "postgres":
        parser.error("--restart-postgres needs --backend postgres")
    if plan.messages < 1 or plan.kills < 0 or plan.duration <= 0 or plan.endpoints < 2:
        parser.error("need messages >= 1, kills >= 0, duration > 0, endpoints >= 2")
    return plan, args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Run, print the table, exit 0 (pass), 1 (a property failed) or 2 (could not run)."""
    plan, args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # so that ``finally`` blocks stop the children
    try:
        if plan.brokers:
            facts, brokers = asyncio.run(broker_mode.run_brokers(plan))
            passed = brokers.passed
            text = broker_mode.table(plan, facts, brokers)
            document = broker_mode.as_json(plan, facts, brokers)
        else:
            facts, verdict = asyncio.run(run(plan))
            passed = verdict.passed
            text, document = table(plan, facts, verdict), as_json(plan, facts, verdict)
    except Exception as error:  # the harness itself failed: say so, distinctly
        sys.stderr.write(f"chaos: the run could not be carried out: {error}\n")
        sys.exit(2)
    if passed and not args.keep and plan.workdir is None:
        remove_workdir(facts)
    sys.stdout.write(text + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2, default=str))
    sys.exit(0 if passed else 1)
