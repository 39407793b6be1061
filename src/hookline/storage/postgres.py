"""The PostgreSQL backend: many API and worker processes on one database.

Each unit of work runs in a transaction on a connection owned by one thread of
a small pool, so the event loop never waits on the network to the database.
Workers claim with ``FOR UPDATE SKIP LOCKED``; publishing sends ``NOTIFY``, and
a listener thread turns notifications into prompt wake-ups of idle workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from hookline.domain.secrets import SecretBox
from hookline.errors import HooklineError, StorageError
from hookline.storage import migrations
from hookline.storage._threaded import ThreadedSqlStorage
from hookline.storage.faults import VALUE_FAULTS, InputRefused
from hookline.storage.sql import Dialect, SqlOperations, load_queries

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "hookline_work"
#: Key of the advisory lock that lets one process at a time migrate.
_MIGRATION_LOCK = 7_411_000_001

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_JSON_ROWS = re.compile(r"json_rows\((:\w+)\)")
_JSON_EACH = re.compile(r"json_each\((:?[\w.]+)\)")


#: What psycopg raises for a value PostgreSQL cannot keep (storage.faults).
_REFUSED: tuple[type[Exception], ...] = (
    *VALUE_FAULTS,
    psycopg.DataError,
    pg_errors.ProgramLimitExceeded,
)


def to_postgres(sql: str) -> str:
    """Rewrite a portable query (``:name``, ``json_each``) into psycopg's dialect."""
    sql = sql.replace("%", "%%")
    sql = _JSON_ROWS.sub(r"json_array_elements(CAST(\1 AS json)) AS value", sql)
    sql = _JSON_EACH.sub(r"json_array_elements_text(CAST(\1 AS json)) AS value", sql)
    return _PARAM.sub(r"%(\1)s", sql)


def _is_unique_violation(error: Exception) -> bool:
    return isinstance(error, pg_errors.UniqueViolation)


def _notify(conn: Any) -> None:
    conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")


class _Conn:
    """psycopg's connection (rows as dicts, read by column name) with the sqlite3-style
    ``executemany`` the operations use."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, query: str, params: Any = None) -> Any:
        return self.raw.execute(query, params, prepare=True)

    def executemany(self, query: str, rows: Any) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(query, rows)


class PostgresStorage(ThreadedSqlStorage):
    """``Storage`` on a PostgreSQL database."""

    def __init__(self, url: str, *, secret_box: SecretBox, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        queries = load_queries("postgres")
        self.ops = SqlOperations(
            Dialect(
                name="postgres",
                queries={name: to_postgres(sql) for name, sql in queries.items()},
                is_unique_violation=_is_unique_violation,
                on_publish=_notify,
            ),
            secret_box,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[psycopg.Connection[Any]] = []
        self._connections_lock = threading.Lock()
        self._work = asyncio.Event()
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()

    # connections ------------------------------------------------------------

    def _connection(self) -> _Conn:
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.raw.closed or conn.raw.broken:
            raw = psycopg.connect(self.url, autocommit=False, row_factory=dict_row)
            # A claim answers in one JSON value of objects keyed by column name: orjson
            # reads it several times faster than the json module psycopg uses by default.
            set_json_loads(orjson.loads, raw)
            with self._connections_lock:
                self._connections.append(raw)
            conn = _Conn(raw)
            self._local.conn = conn
        return conn

    def _run(self, run: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            conn = self._connection()
            with conn.raw.transaction():
                return run(conn, *args)
        except HooklineError:
            raise
        except _REFUSED as error:
            # Class 22 (data exception: a NUL, a number out of range) and 54 (a value too
            # long for an index row): the input's fault, not the database's.
            logger.warning("postgres refused a value", extra={"error": type(error).__name__})
            raise InputRefused from error
        except psycopg.Error as error:
            logger.warning("postgres operation failed", extra={"error": type(error).__name__})
            raise StorageError(f"database error: {type(error).__name__}: {error}") from error

    async def _write(self, run: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        # Every connection of the pool writes: nothing queues behind anything, so
        # urgent work needs no place of its own.
        if self._pool is None:
            raise StorageError("storage is not open")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, run, args)

    _read = _write

    # lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Connect, migrate, and start listening for work notifications."""
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix="hookline-pg")
        self._work = asyncio.Event()
        self._stopping.clear()
        await self.migrate()
        loop = asyncio.get_running_loop()
        self._listener = threading.Thread(
            target=self._listen, args=(loop,), name="hookline-pg-listen", daemon=True
        )
        self._listener.start()

    async def close(self) -> None:
        """Stop the listener and close every connection."""
        if self._pool is None:
            return
        self._stopping.set()
        loop = asyncio.get_running_loop()
        if self._listener is not None:
            # Wake the listener out of its wait so that closing does not take a poll tick.
            with contextlib.suppress(HooklineError):
                await self._write(_notify)
            await loop.run_in_executor(None, self._listener.join, 5.0)
            self._listener = None
        self._pool.shutdown(wait=True)
        self._pool = None
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            self._connections.clear()

    async def migrate(self) -> list[int]:
        """Apply pending migrations under an advisory lock (one migrator at a time)."""
        return await self._write(self._migrate)

    def _migrate(self, conn: _Conn) -> list[int]:
        conn.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _MIGRATION_LOCK})
        return migrations.apply("postgres", conn.raw.execute, time.time())

    # wake-ups -----------------------------------------------------------------

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # A reconnect may have missed notifications: wake once to look.
                    loop.call_soon_threadsafe(self._work.set)
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            loop.call_soon_threadsafe(self._work.set)
            except psycopg.Error as error:
                logger.warning("listener lost its connection", extra={"error": str(error)})
                self._stopping.wait(1.0)
            except RuntimeError:  # the event loop closed under us: we are shutting down
                return

    async def wait_for_work(self, timeout: float) -> None:
        """Wake on a NOTIFY from any process, or after ``timeout``."""
        if timeout > 0 and not self._work.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), timeout)
        self._work.clear()
