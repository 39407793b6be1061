"""PostgreSQL for the test suite: reach the server, keep a migrated template, hand out copies.

One database is migrated per session (``hookline_tpl_<pid>``); every test gets its
own ``CREATE DATABASE ... TEMPLATE`` copy of it, dropped afterwards. Tests are
isolated, and none of them pays for a migration.

Copying a database costs the server ~0.2 s of I/O, but copies made side by side
cost far less each, so a few are made ahead on background threads while tests run,
and dropped there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from hookline.storage import Storage
from hookline.storage.postgres import CHANNEL, PostgresStorage

from support.keyring import TEST_SECRET_BOX

URL_VARIABLE = "HOOKLINE_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Databases copied ahead of the tests that will use them.
AHEAD = 4


def server_url() -> str:
    """The server under test: ``$HOOKLINE_TEST_POSTGRES_URL`` or a local default."""
    return os.environ.get(URL_VARIABLE) or DEFAULT_URL


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def redacted(url: str) -> str:
    """``url`` without its password, fit for a test report."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection (CREATE/DROP DATABASE refuse to run in a transaction)."""
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


async def close_promptly(storage: Storage) -> None:
    """Close ``storage``; a PostgreSQL one without waiting out its listener's 0.5 s poll."""
    closing = asyncio.ensure_future(storage.close())
    if isinstance(storage, PostgresStorage):
        await asyncio.sleep(0)  # close() has now told its listener to stop...
        await asyncio.to_thread(_notify, storage.url)  # ...and a notification wakes it at once
    await closing


def _notify(url: str) -> None:
    with connect(url) as conn:
        conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(CHANNEL)))


async def _migrate(url: str) -> None:
    storage = PostgresStorage(url, secret_box=TEST_SECRET_BOX, pool_size=1)
    await storage.open()
    await close_promptly(storage)


class Server:
    """One PostgreSQL server, its session template, and the test databases copied from it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.template = f"hookline_tpl_{os.getpid()}"
        self._threads = ThreadPoolExecutor(AHEAD, thread_name_prefix="hookline-test-db")
        self._ahead: deque[Future[str]] = deque()
        self._drops: list[Future[None]] = []

    def require_reachable(self) -> None:
        """Skip the test if the server does not answer; in CI (``CI=true``) fail it instead."""
        try:
            with connect(self.url) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as error:
            detail = (str(error).strip().splitlines() or [repr(error)])[0]
        else:
            return
        # Outside the except block, so the report is the reason alone, not a chained traceback.
        reason = f"PostgreSQL not reachable at {redacted(self.url)} ({detail}); set {URL_VARIABLE}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI runs the PostgreSQL tests, never skips them.", pytrace=False)
        pytest.skip(reason)

    def _admin(self, statement: sql.Composable) -> None:
        with connect(self.url) as conn:
            conn.execute(statement)

    def drop(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting anyone still on it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create(self, *, migrated: bool = True) -> str:
        """Create a database, a copy of the template or empty; return its name."""
        name = f"hookline_t_{secrets.token_hex(6)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if migrated:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(self.template))
        self._admin(statement)
        return name

    def start(self) -> None:
        """Create the session's template and migrate it with a real ``PostgresStorage``."""
        self.drop(self.template)  # left behind by a crashed run that had our pid
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
        # The storage needs an event loop; run it on a thread so as not to touch the test's.
        self._threads.submit(asyncio.run, _migrate(with_database(self.url, self.template))).result()

    def stop(self) -> None:
        """Drop every database this session made, the template last."""
        leftovers = [future.result() for future in self._ahead]
        self._drops += [self._threads.submit(self.drop, name) for name in leftovers]
        for future in self._drops:
            future.result()
        self._threads.shutdown()
        self.drop(self.template)

    @contextlib.contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        """A throwaway database (a copy of the template, or empty), dropped on exit."""
        if migrated:
            while len(self._ahead) <= AHEAD:
                self._ahead.append(self._threads.submit(self.create))
            name = self._ahead.popleft().result()
        else:
            name = self.create(migrated=False)
        try:
            yield with_database(self.url, name)
        finally:
            self._drops.append(self._threads.submit(self.drop, name))
