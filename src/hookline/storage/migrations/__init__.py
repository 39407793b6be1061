"""Versioned schema migrations: ``<dialect>/NNNN_name.sql``, applied in order, each once."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hookline.errors import MigrationError

logger = logging.getLogger(__name__)

#: Records an applied migration, in each dialect's parameter style.
_RECORD = {
    "sqlite": "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)",
    "postgres": "INSERT INTO schema_migrations (version, name, applied_at) "
    "VALUES (%(v)s, %(n)s, %(t)s)",
}

#: Times are epoch seconds in every table, in each dialect's floating type.
_TIME_TYPE = {"sqlite": "REAL", "postgres": "DOUBLE PRECISION"}

_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    sql: str


def available(dialect: str) -> list[Migration]:
    """Every migration shipped for ``dialect`` ("sqlite" or "postgres"), oldest first."""
    folder = resources.files("hookline.storage.migrations").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return found


def pending(dialect: str, applied: set[int]) -> list[Migration]:
    """The migrations not yet applied, refusing a database newer than this code."""
    shipped = available(dialect)
    unknown = applied - {m.version for m in shipped}
    if unknown:
        raise MigrationError(
            f"the database has schema versions {sorted(unknown)} that this hookline does not know; "
            "upgrade hookline"
        )
    return [m for m in shipped if m.version not in applied]


#: Lines around a statement that holds ';' itself (a trigger's or a function's body).
BLOCK_START, BLOCK_END = "-- begin block", "-- end block"


def statements(script: str) -> list[str]:
    """Split a migration into statements.

    Statements end with ';'. One that holds ';' inside (a trigger's or a function's
    body) stands between a ``-- begin block`` line and an ``-- end block`` line and
    runs whole. Comment lines outside blocks are dropped.
    """
    found: list[str] = []
    lines: list[str] = []
    in_block = False

    def split_plain() -> None:
        found.extend(part.strip() for part in "\n".join(lines).split(";") if part.strip())

    for line in script.splitlines():
        marker = line.strip()
        if marker == BLOCK_START and not in_block:
            split_plain()
            lines.clear()
            in_block = True
        elif marker == BLOCK_END and in_block:
            found.append("\n".join(lines).strip())
            lines.clear()
            in_block = False
        elif in_block or not marker.startswith("--"):
            lines.append(line)
    if in_block:
        raise MigrationError(f"a {BLOCK_START!r} line without its {BLOCK_END!r}")
    split_plain()
    return found


def apply(
    dialect: str, execute: Callable[[str, dict[str, object] | None], Any], now: float
) -> list[int]:
    """Apply pending migrations through ``execute(sql, params)``; return the versions applied.

    Runs inside the caller's transaction, so a failing migration leaves nothing behind.
    """
    execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        f"name TEXT NOT NULL, applied_at {_TIME_TYPE[dialect]} NOT NULL)",
        None,
    )
    found = execute("SELECT version FROM schema_migrations", None).fetchall()
    applied = {row["version"] for row in found}  # rows by name, on both backends
    done = []
    for migration in pending(dialect, applied):
        for statement in statements(migration.sql):
            execute(statement, None)
        execute(_RECORD[dialect], {"v": migration.version, "n": migration.name, "t": now})
        done.append(migration.version)
        logger.info(
            "applied migration", extra={"version": migration.version, "migration": migration.name}
        )
    return done
