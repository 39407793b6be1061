"""Versioned schema migrations: ``<dialect>/NNNN_name.sql``, applied in order, each once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from hookline.errors import MigrationError

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


def statements(script: str) -> list[str]:
    """Split a migration into statements (migrations end each statement with ';')."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
