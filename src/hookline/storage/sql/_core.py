"""What every SQL operation module stands on: queries, connections, rows, the base class.

Each operation is a plain synchronous method of an open connection, run inside a
transaction the backend provides (SQLite on its writer or reader threads, PostgreSQL
on a pool of connection threads). ``@reads`` and ``@writes`` mark the operations that
are the storage ports' methods, and say which kind of transaction each needs: the
backends' async face (``storage/_threaded.py``) is made from those marks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol, TypeVar, overload

import orjson

from hookline.domain.models import Page
from hookline.domain.secrets import SecretBox
from hookline.errors import ConflictError, NotFoundError
from hookline.storage.records import Cursor

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: Smallest and largest possible ids: open bounds for keyset pagination.
LOWEST = ""
HIGHEST = "~"

#: How an operation touches the database (the attribute ``@reads``/``@writes`` set).
ACCESS = "__storage_access__"
READ, WRITE, URGENT = "read", "write", "urgent"


def reads(operation: F) -> F:
    """Mark a port operation that only reads: it may run beside writes, on a reader."""
    setattr(operation, ACCESS, READ)
    return operation


@overload
def writes(operation: F, /) -> F: ...
@overload
def writes(*, urgent: bool) -> Callable[[F], F]: ...
def writes(operation: F | None = None, /, *, urgent: bool = False) -> F | Callable[[F], F]:
    """Mark a port operation that changes data. ``urgent`` (a worker's claims) asks a
    backend with a single writer to run it ahead of the writes queued beside it."""

    def mark(found: F) -> F:
        setattr(found, ACCESS, URGENT if urgent else WRITE)
        return found

    return mark if operation is None else mark(operation)


class Row(Protocol):
    """A database row read by column name (sqlite3.Row, or psycopg's dict_row)."""

    def __getitem__(self, column: str, /) -> Any: ...


class Connection(Protocol):
    """The slice of DB-API both sqlite3 and psycopg connections provide."""

    def execute(self, query: str, params: Any = ..., /) -> Any: ...


_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
#: The files of queries that one dialect replaces or adds to (``<dialect>.sql``).
DIALECTS = ("sqlite", "postgres")


def _blocks(file: str) -> dict[str, str]:
    text = resources.files("hookline.storage").joinpath("queries", file).read_text()
    parts = _NAME_LINE.split(text)
    blocks = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"query {name} is named twice in {file}")
        lines = [line for line in body.strip().splitlines() if not line.startswith("--")]
        blocks[name] = "\n".join(lines).strip().rstrip(";")
    return blocks


def load_queries(dialect: str) -> dict[str, str]:
    """Every named block (``-- name: x``) of ``queries/``: one file per concern, then the
    dialect's own file (``sqlite.sql``, ``postgres.sql``), whose blocks replace theirs."""
    folder = resources.files("hookline.storage").joinpath("queries")
    concerns = sorted(
        entry.name for entry in folder.iterdir()
        if entry.name.endswith(".sql") and entry.name.removesuffix(".sql") not in DIALECTS
    )  # fmt: skip
    queries: dict[str, str] = {}
    for file in concerns:
        blocks = _blocks(file)
        twice = sorted(set(blocks) & set(queries))
        if twice:
            raise ValueError(f"queries named in two files ({file} and another): {twice}")
        queries.update(blocks)
    queries.update(_blocks(f"{dialect}.sql"))
    for name, sql in list(queries.items()):
        if name.startswith("list_"):
            # Each list is written once, last-first; its first-first twin is derived.
            if sql.count(" DESC LIMIT ") != 1:
                raise ValueError(f"list query {name} must end in 'ORDER BY <key> DESC LIMIT'")
            queries[f"{name}.asc"] = sql.replace(" DESC LIMIT ", " ASC LIMIT ")
    return queries


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL databases hookline runs on."""

    name: str
    queries: dict[str, str]
    is_unique_violation: Callable[[Exception], bool]
    on_publish: Callable[[Connection], None] = lambda conn: None

    def q(self, name: str) -> str:
        """The text of a named query."""
        return self.queries[name]


def dumps(value: Any) -> str | None:
    """Encode a JSON column (None stays NULL)."""
    return None if value is None else orjson.dumps(value).decode()


def loads(value: str | bytes | None) -> Any:
    """Decode a JSON column (NULL stays None)."""
    return None if value is None else orjson.loads(value)


def as_tuple(value: str | None) -> tuple[Any, ...] | None:
    """A JSON array column as a tuple (NULL stays None)."""
    loaded = loads(value)
    return None if loaded is None else tuple(loaded)


def json_rows(value: Any) -> list[dict[str, Any]]:
    """A JSON array of row objects, whether the driver hands it over as text or decoded."""
    rows: list[dict[str, Any]] = orjson.loads(value) if isinstance(value, str | bytes) else value
    return rows


def page(rows: list[T], limit: int, key: Callable[[T], str], cursor: Cursor) -> Page[T]:
    """Cut one extra fetched row off and turn it into Svix's ``done`` and iterators."""
    done = len(rows) <= limit
    data = rows[:limit]
    iterator = key(data[-1]) if data else cursor.iterator
    prev = key(data[0]) if data else cursor.iterator
    return Page(data=data, iterator=iterator, prev_iterator=prev, done=done)


class SqlBase:
    """The dialect, the sealing box and the few ways every operation runs a query."""

    def __init__(self, dialect: Dialect, secret_box: SecretBox) -> None:
        self.dialect = dialect
        self.q = dialect.q
        self.secret_box = secret_box

    def _one(self, conn: Connection, query: str, params: dict[str, Any]) -> Row | None:
        row: Row | None = conn.execute(self.q(query), params).fetchone()
        return row

    def _all(self, conn: Connection, query: str, params: dict[str, Any]) -> list[Row]:
        rows: list[Row] = conn.execute(self.q(query), params).fetchall()
        return rows

    def _get(self, conn: Connection, query: str, params: dict[str, Any], missing: str) -> Row:
        """The row ``query`` finds, or ``NotFoundError`` saying ``missing`` was not found."""
        row = self._one(conn, query, params)
        if row is None:
            raise NotFoundError(f"{missing} not found")
        return row

    def _json(self, conn: Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a query that answers them as one JSON array in a ``found`` column."""
        row = self._one(conn, query, params)
        return json_rows(row["found"] if row is not None else "[]")

    def _insert(self, conn: Connection, query: str, params: dict[str, Any], what: str) -> None:
        """Run an insert or an update; a unique key it breaks is ``what`` already existing."""
        try:
            conn.execute(self.q(query), params)
        except Exception as error:
            if self.dialect.is_unique_violation(error):
                raise ConflictError(f"{what} already exists") from None
            raise

    def _executemany(self, conn: Connection, query: str, rows: Sequence[dict[str, Any]]) -> None:
        conn.executemany(self.q(query), rows)  # type: ignore[attr-defined]

    def _list(
        self, conn: Connection, query: str, cursor: Cursor, default_ascending: bool = False,
        **params: Any,
    ) -> list[Row]:  # fmt: skip
        """Run a ``list_*`` query for one page (plus one row, to tell whether more follow)."""
        ascending = default_ascending if cursor.ascending is None else cursor.ascending
        name = f"{query}.asc" if ascending else query
        if ascending:
            bounds = {"after": cursor.iterator or LOWEST, "before": HIGHEST}
        else:
            bounds = {"after": LOWEST, "before": cursor.iterator or HIGHEST}
        return self._all(conn, name, {**bounds, "limit": cursor.limit + 1, **params})
