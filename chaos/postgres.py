"""PostgreSQL for a chaos run: a fresh database, and a restart of the whole server.

The restart uses Debian's ``pg_ctlcluster`` on the local cluster that listens on
the URL's port (the harness runs as root, or as the cluster's owner). It stops
the server ``fast`` (every connection is cut, of every database on it) and starts
it again; :func:`wait_until_up` then proves that it accepts connections.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

#: Where the test suite's server is, and so the default here too.
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
_LOCAL_HOSTS = {"", "127.0.0.1", "localhost", "::1"}


class PostgresError(RuntimeError):
    """The server cannot be used or restarted as asked."""


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def accepts_connections(url: str, timeout: float = 2.0) -> bool:
    """Whether a connection to ``url`` works and answers ``SELECT 1`` now."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def wait_until_up(url: str, timeout: float) -> float:
    """Wait until the server accepts connections; returns when it did (epoch seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if accepts_connections(url):
            return time.time()
        time.sleep(0.1)
    raise PostgresError(f"PostgreSQL did not accept connections within {timeout:.0f}s")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (hookline migrates it), dropped on exit."""
    name = f"hookline_chaos_{secrets.token_hex(5)}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        wait_until_up(server_url, 60)
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def local_cluster(url: str) -> tuple[str, str]:
    """(version, name) of the local Debian cluster serving ``url``; raises if there is none."""
    parts = urlsplit(url)
    if (parts.hostname or "") not in _LOCAL_HOSTS:
        raise PostgresError(f"can only restart a local PostgreSQL, not {parts.hostname}")
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        raise PostgresError("pg_lsclusters/pg_ctlcluster not found (Debian's postgresql-common)")
    port = str(parts.port or 5432)
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"],  # noqa: S607 - Debian's tool, found on PATH
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == port:
            return fields[0], fields[1]
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*"))
    if len(versions) == 1:
        return versions[0], "main"
    raise PostgresError(f"no local cluster listens on port {port}")


def restart(cluster: tuple[str, str], timeout: float = 60.0) -> None:
    """``pg_ctlcluster --skip-systemctl-redirect VERSION NAME restart`` (a fast stop)."""
    version, name = cluster
    done = subprocess.run(  # noqa: S603 - version and name come from pg_lsclusters
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],  # noqa: S607
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise PostgresError(f"pg_ctlcluster restart failed: {done.stderr.strip()}")
