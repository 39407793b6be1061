"""Raw access to a test database, beside hookline's storage: to look at or plant rows."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

import pg


def dialect(url: str) -> str:
    """``sqlite`` or ``postgres``, from a database URL."""
    return "sqlite" if url.startswith("sqlite:///") else "postgres"


def query(url: str, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of its own (``?`` placeholders), committed."""
    if dialect(url) == "sqlite":
        path = url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            return conn.execute(statement, params).fetchall()
    with pg.connect(url) as conn:
        cursor = conn.execute(statement.replace("?", "%s"), params or None)
        return cursor.fetchall() if cursor.description else []
