"""Where a benchmark's databases live: SQLite files in the run's directory, or PostgreSQL.

Both hand out database URLs that ``hookline`` takes as ``HOOKLINE_DATABASE_URL``:
a fresh empty one (``create``), a copy of another (``clone``: every run works on a
copy of a published backlog), and ``drop`` when a run is done. PostgreSQL
databases are made with psycopg in autocommit (``CREATE DATABASE bench_<random>_<name>``,
a copy with ``... TEMPLATE <backlog>``) and all dropped again by ``close()``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from bench.common import BenchError
from bench.processes import process_cpu_seconds

#: The server the PostgreSQL figures use unless ``--postgres-url`` says otherwise.
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_SQLITE_FILES = ("", "-wal", "-shm")


class Databases(Protocol):
    """Makes, copies and removes the databases of one benchmark run."""

    def create(self, name: str) -> str:
        """The URL of a new, empty database (hookline migrates it on start)."""
        ...

    def clone(self, url: str, name: str) -> str:
        """The URL of a new database holding a copy of ``url`` (no one may be using it)."""
        ...

    def drop(self, url: str) -> None:
        """Remove a database made here."""
        ...

    def server_cpu_seconds(self, url: str) -> dict[str, float]:
        """CPU seconds used so far by the server processes working for ``url``, by name."""
        ...


class SqliteFiles:
    """SQLite databases as files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def path(url: str) -> Path:
        """The file of a ``sqlite:///`` URL."""
        return Path(url.removeprefix("sqlite:///"))

    def create(self, name: str) -> str:
        """A file name that is not taken yet (hookline creates the file)."""
        path = self.directory / f"{name}.db"
        if path.exists():
            path = self.directory / f"{name}-{time.monotonic_ns()}.db"
        return f"sqlite:///{path}"

    def clone(self, url: str, name: str) -> str:
        """A copy of the file and its write-ahead log, flushed to disk.

        Flushed, so that writing back a large copy (the million-delivery backlog is
        ~2 GB) does not compete with the fsyncs of the run that follows.
        """
        target = self.create(name)
        for suffix in _SQLITE_FILES[:2]:
            source = Path(f"{self.path(url)}{suffix}")
            if source.exists():
                copy = Path(f"{self.path(target)}{suffix}")
                shutil.copyfile(source, copy)
                with copy.open("rb+") as written:
                    os.fsync(written.fileno())
        return target

    def drop(self, url: str) -> None:
        """Delete the file, its log and its shared-memory index."""
        for suffix in _SQLITE_FILES:
            Path(f"{self.path(url)}{suffix}").unlink(missing_ok=True)

    def server_cpu_seconds(self, url: str) -> dict[str, float]:
        """None: SQLite runs inside the hookline process, whose CPU is counted there."""
        return {}


class PostgresDatabases:
    """Databases on one PostgreSQL server, reached through its ``postgres`` database URL."""

    def __init__(self, admin_url: str = POSTGRES_URL) -> None:
        self.admin_url = admin_url
        self.prefix = f"bench_{os.urandom(4).hex()}"
        self._made: list[str] = []
        self._serial = itertools.count()

    def _execute(self, statement: str) -> list[tuple[object, ...]]:
        import psycopg  # only the PostgreSQL figures need it

        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                cursor = conn.execute(statement.encode())
                return cursor.fetchall() if cursor.description else []
        except psycopg.Error as error:
            raise BenchError(f"PostgreSQL: {error}") from error

    def _url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    @staticmethod
    def _name(url: str) -> str:
        return urlsplit(url).path.lstrip("/")

    def _new_name(self, name: str) -> str:
        # Only [a-z0-9_]: the names go into statements unquoted.
        clean = "".join(c if c.isalnum() else "_" for c in name.lower())
        database = f"{self.prefix}_{next(self._serial)}_{clean}"[:63]
        self._made.append(database)
        return database

    def create(self, name: str) -> str:
        """``CREATE DATABASE bench_<random>_<name>`` (from template0: nothing to copy)."""
        database = self._new_name(name)
        self._execute(f"CREATE DATABASE {database} TEMPLATE template0")
        return self._url(database)

    def clone(self, url: str, name: str) -> str:
        """``CREATE DATABASE ... TEMPLATE <url's database>``: a file-level copy."""
        database = self._new_name(name)
        self._execute(f"CREATE DATABASE {database} TEMPLATE {self._name(url)}")
        return self._url(database)

    def drop(self, url: str) -> None:
        """``DROP DATABASE ... WITH (FORCE)``: connections left over do not stop it."""
        database = self._name(url)
        self._execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        if database in self._made:
            self._made.remove(database)

    def close(self, patience: float = 60.0) -> None:
        """Drop every database made here and not dropped yet.

        A server that is restarting (someone else's test may restart it) is waited for,
        up to ``patience`` seconds; what is left then is named, not hidden.
        """
        deadline = time.monotonic() + patience
        while self._made:
            try:
                self.drop(self._url(self._made[0]))
            except BenchError:
                if time.monotonic() > deadline:
                    raise BenchError(f"could not drop {', '.join(self._made)}") from None
                time.sleep(1.0)

    def server_cpu_seconds(self, url: str) -> dict[str, float]:
        """CPU of the server's backends connected to ``url``'s database (same machine only).

        Keyed by backend process id, so a backend that comes or goes between two
        readings is counted from or to zero.
        """
        database = self._name(url)
        rows = self._execute(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'"  # noqa: S608 - our own name
        )
        return {f"postgres {pid}": process_cpu_seconds(int(str(pid))) for (pid,) in rows}
