"""The embedded SQLite backend: one file, no server, group-committed writes.

All writes go through one writer thread, which takes every job waiting in its
queue, runs each inside its own SAVEPOINT and commits them together: one fsync
for many publishes, while each job still succeeds or fails alone. Reads run on a
small pool of reader threads; WAL mode lets them proceed beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hookline.domain.secrets import SecretBox
from hookline.errors import HooklineError, StorageError
from hookline.storage import migrations, wake
from hookline.storage._threaded import ThreadedSqlStorage
from hookline.storage.faults import VALUE_FAULTS, InputRefused
from hookline.storage.sql import Dialect, SqlOperations, load_queries

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Jobs committed together at most; bounds the latency one commit adds.
_MAX_GROUP = 512
_READERS = 2
#: How long a statement waits for another connection's lock before failing.
_BUSY_SECONDS = 10.0


#: What SQLite or its binding raise for a value it cannot keep (storage.faults).
_REFUSED: tuple[type[Exception], ...] = (*VALUE_FAULTS, sqlite3.DataError)


def _is_unique_violation(error: Exception) -> bool:
    return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)


class _Job:
    __slots__ = ("args", "future", "loop", "run", "urgent")

    def __init__(
        self, run: Callable[..., Any], args: tuple[Any, ...], loop: asyncio.AbstractEventLoop,
        urgent: bool = False,
    ) -> None:  # fmt: skip
        self.run = run
        self.args = args
        self.loop = loop
        self.urgent = urgent
        self.future: asyncio.Future[Any] = loop.create_future()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting out other connections doing the same.

    Several connections opening one new file each read it (a shared lock) and then want
    the exclusive lock the switch needs; SQLite answers one of them "database is locked"
    at once, without calling the busy handler, since waiting could deadlock. It may
    simply try again once the other has switched.
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def _fail(job: _Job, error: BaseException) -> None:
    job.loop.call_soon_threadsafe(_settle, job.future, None, error)


class _WriterLock:
    """An ``flock`` that the writers of every hookline process on one file take around
    their transactions.

    SQLite's own lock stays the authority (other programs on the file still meet its
    busy handler), but a writer that finds it taken sleeps 1, 2, 5, 10... ms between
    tries and wakes late: with the API and the delivery process both writing, those
    naps were a large share of end-to-end time. A blocked ``flock`` wakes the moment
    the other writer commits. The lock file sits beside the database; where it cannot
    be made (a read-only folder), writers fall back to the busy handler alone.
    """

    def __init__(self, path: str) -> None:
        self._fd: int | None = None
        try:
            self._fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            logger.warning("no writer lock beside the database", extra={"error": str(error)})

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks this thread only: the GIL is free

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SqliteStorage(ThreadedSqlStorage):
    """``Storage`` on one SQLite file."""

    def __init__(self, path: str, *, secret_box: SecretBox, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._notify_pending = False
        self.ops = SqlOperations(
            Dialect(
                name="sqlite",
                queries={
                    name: sql.replace("json_rows(", "json_each(")
                    for name, sql in load_queries("sqlite").items()
                },
                is_unique_violation=_is_unique_violation,
                on_publish=self._mark_work,
            ),
            secret_box,
        )
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work = asyncio.Event()
        #: Wake-ups to and from the other processes on this file (storage/wake.py).
        self._wake_sender: wake.WakeSender | None = None
        self._wake_listener: wake.WakeListener | None = None
        #: Taken by the writer thread around each transaction (made with its connection).
        self._writer_lock: _WriterLock | None = None

    # connections -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # timeout= installs the busy handler before the first statement: switching a new
        # file to WAL takes an exclusive lock, and a second process or storage opening
        # the same new file at that moment must wait for it, not fail.
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=_BUSY_SECONDS
        )
        conn.row_factory = sqlite3.Row  # rows read by column name (in C: no cost to speak of)
        _switch_to_wal(conn)
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")
        # Checkpoint the WAL every ~40 MB rather than every 4 MB: fewer copy-and-fsync
        # rounds under a steady write load.
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            self._reader_connections.append(conn)
        return conn

    # lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        """Create the file if needed, migrate, and start the writer and readers."""
        if self._writer is not None:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)  # noqa: ASYNC240
        self._loop = asyncio.get_running_loop()
        self._work = asyncio.Event()
        if wake.supported(self.path):
            self._wake_sender = wake.WakeSender(self.path)
        self._writer = threading.Thread(
            target=self._write_loop, name="hookline-sqlite-writer", daemon=True
        )
        self._writer.start()
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="hookline-sqlite-reader")
        await self.migrate()

    async def close(self) -> None:
        """Let queued writes finish, then stop the threads."""
        if self._writer is None:
            return
        self._jobs.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        for conn in self._reader_connections:
            conn.close()
        self._reader_connections.clear()
        self._local = threading.local()
        if self._wake_listener is not None:
            self._wake_listener.close()
            self._wake_listener = None
        if self._wake_sender is not None:
            self._wake_sender.close()
            self._wake_sender = None

    async def migrate(self) -> list[int]:
        """Apply pending migrations (serialised by the single writer)."""
        return await self._write(self._migrate)

    def _migrate(self, conn: sqlite3.Connection) -> list[int]:
        return migrations.apply(
            "sqlite", lambda sql, params: conn.execute(sql, params or {}), time.time()
        )

    # the writer thread ------------------------------------------------------------

    def _mark_work(self, conn: object) -> None:
        self._notify_pending = True

    def _write_loop(self) -> None:
        conn: sqlite3.Connection | None = None
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                break
            if conn is None:
                # Connect on demand: if the file cannot be opened, each waiting write
                # gets the error (the thread never dies leaving callers waiting forever).
                try:
                    conn = self._connect()
                    self._writer_lock = _WriterLock(self.path)
                except sqlite3.Error as error:
                    logger.exception("sqlite writer cannot open the database")
                    _fail(first, StorageError(f"database error: {error}"))
                    continue
            group = [first]
            while len(group) < _MAX_GROUP:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
            self._run_groups(conn, group)
        if conn is not None:
            conn.close()
        if self._writer_lock is not None:
            self._writer_lock.close()
            self._writer_lock = None

    def _run_groups(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        """Urgent jobs (a worker's claims) first, in queue order, in a transaction of their own.

        A claim's answer is what the worker waits for before it can send more; in one
        transaction with the outcome writes queued beside it, it would also wait for
        those to run and commit. A commit of its own costs one more fsync.
        """
        urgent = [job for job in group if job.urgent]
        if urgent and len(urgent) < len(group):
            self._run_group(conn, urgent)
            self._run_group(conn, [job for job in group if not job.urgent])
        else:
            self._run_group(conn, group)

    def _run_group(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        """One transaction for ``group`` under the writer lock; then wake-ups and answers."""
        with self._writer_lock or contextlib.nullcontext():
            results = self._transaction(conn, group)
        self._after_commit(group, results)

    def _transaction(
        self, conn: sqlite3.Connection, group: list[_Job]
    ) -> list[tuple[Any, BaseException | None]]:
        """Each job in a savepoint of one transaction: each fails alone, all commit at once."""
        results: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                conn.execute("SAVEPOINT job")
                try:
                    result = job.run(conn, *job.args)
                except HooklineError as error:
                    conn.execute("ROLLBACK TO job")
                    results.append((None, error))
                except _REFUSED as error:
                    # A value SQLite cannot bind or keep (a lone surrogate, an integer past
                    # 64 bits, a string or blob too big): the input's fault.
                    conn.execute("ROLLBACK TO job")
                    logger.warning("sqlite refused a value", extra={"error": type(error).__name__})
                    results.append((None, InputRefused()))
                except sqlite3.Error as error:
                    conn.execute("ROLLBACK TO job")
                    logger.exception("sqlite write failed")
                    results.append((None, StorageError(f"database error: {error}")))
                except Exception as error:  # a bug: report it to the caller, keep the others
                    conn.execute("ROLLBACK TO job")
                    results.append((None, error))
                else:
                    results.append((result, None))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except sqlite3.Error as commit_error:
            logger.exception("sqlite commit failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StorageError(f"database error: {commit_error}")
            results = [(None, failure)] * len(group)
            self._notify_pending = False
        return results

    def _after_commit(
        self, group: list[_Job], results: list[tuple[Any, BaseException | None]]
    ) -> None:
        if self._notify_pending:
            self._notify_pending = False
            group[0].loop.call_soon_threadsafe(self._work.set)
            if self._wake_sender is not None:  # the workers of the other processes
                self._wake_sender.send()
        for job, (value, problem) in zip(group, results, strict=True):
            job.loop.call_soon_threadsafe(_settle, job.future, value, problem)

    async def _write(self, run: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        if self._writer is None:
            raise StorageError("storage is not open")
        job = _Job(run, args, asyncio.get_running_loop(), urgent)
        self._jobs.put(job)
        return await job.future  # type: ignore[no-any-return]

    async def _read(self, run: Callable[..., T], *args: Any) -> T:
        if self._readers is None:
            raise StorageError("storage is not open")

        def call() -> T:
            conn = self._reader()
            try:
                return run(conn, *args)
            except _REFUSED as error:
                raise InputRefused from error
            except sqlite3.Error as error:
                raise StorageError(f"database error: {error}") from error

        return await asyncio.get_running_loop().run_in_executor(self._readers, call)

    async def wait_for_work(self, timeout: float) -> None:
        """Wake on a commit that queued work, in this process or another on the file (the
        first call starts listening for the others' wake-ups), or after ``timeout``."""
        if self._wake_listener is None and self._wake_sender is not None:
            self._wake_listener = wake.WakeListener(
                self.path, asyncio.get_running_loop(), self._work.set
            )
            self._wake_sender.own = self._wake_listener.address
            # Work committed elsewhere before this listened woke nobody: look again now.
            self._work.set()
        if timeout > 0 and not self._work.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), timeout)
        self._work.clear()
