"""Schema migrations: applied once, refused when the database is newer, alike on both backends."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hookline.errors import MigrationError, StorageError
from hookline.storage import Storage, migrations, storage_from_url
from hookline.storage.sqlite import _switch_to_wal

import pg
from support.database import dialect, query
from support.keyring import TEST_SECRET_BOX

#: SQLite's declared column types and what PostgreSQL's information_schema calls them.
PG_TYPE_OF = {"TEXT": "text", "INTEGER": "integer", "REAL": "double precision", "BLOB": "bytea"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: pg.Server = request.getfixturevalue("pg_server")
    with server.database(migrated=False) as url:
        yield url


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[Storage]:
    store = storage_from_url(url, secret_box=TEST_SECRET_BOX)
    await store.open()
    try:
        yield store
    finally:
        await pg.close_promptly(store)


def applied_versions(url: str) -> list[int]:
    return [row[0] for row in query(url, "SELECT version FROM schema_migrations ORDER BY version")]


def shipped_versions(url: str) -> list[int]:
    return [m.version for m in migrations.available(dialect(url))]


async def test_migrating_twice_applies_nothing_the_second_time(empty_database_url: str) -> None:
    """Opening migrates an empty database fully once; later migrations apply nothing."""
    url = empty_database_url
    async with opened(url) as store:
        assert applied_versions(url) == shipped_versions(url)
        assert await store.migrate() == []
    async with opened(url) as store:
        assert await store.migrate() == []
    assert applied_versions(url) == shipped_versions(url)


async def test_concurrent_first_opens_migrate_exactly_once(empty_database_url: str) -> None:
    """Two storages opening an empty database at once apply each migration once, cleanly."""
    url = empty_database_url
    first = storage_from_url(url, secret_box=TEST_SECRET_BOX)
    second = storage_from_url(url, secret_box=TEST_SECRET_BOX)
    try:
        await asyncio.gather(first.open(), second.open())
        assert applied_versions(url) == shipped_versions(url)
        assert await first.migrate() == []
        assert await second.migrate() == []
    finally:
        await asyncio.gather(pg.close_promptly(first), pg.close_promptly(second))


async def test_database_newer_than_the_code_is_refused(empty_database_url: str) -> None:
    """A schema version this code does not know makes migrate() and open() raise MigrationError."""
    url = empty_database_url
    async with opened(url) as store:
        query(
            url,
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (999, "from_the_future", time.time()),
        )
        with pytest.raises(MigrationError, match="999"):
            await store.migrate()
    later = storage_from_url(url, secret_box=TEST_SECRET_BOX)
    try:
        with pytest.raises(MigrationError, match="999"):
            await later.open()
    finally:
        await pg.close_promptly(later)
    assert applied_versions(url) == [*shipped_versions(url), 999]


def sqlite_columns(url: str) -> dict[str, dict[str, tuple[str, bool]]]:
    tables = query(url, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return {
        table: {
            name: (PG_TYPE_OF.get(kind, kind), bool(notnull or pk))
            for _, name, kind, notnull, _, pk in query(url, f"PRAGMA table_info({table})")
        }
        for (table,) in tables
    }


def postgres_columns(url: str) -> dict[str, dict[str, tuple[str, bool]]]:
    schema: dict[str, dict[str, tuple[str, bool]]] = {}
    rows = query(
        url,
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public'",
    )
    for table, column, kind, nullable in rows:
        schema.setdefault(table, {})[column] = (kind, nullable == "NO")
    return schema


@pytest.mark.postgres
async def test_sqlite_and_postgres_define_the_same_tables_and_columns(
    tmp_path: Path, pg_database_url: str
) -> None:
    """Both backends' migrations make the same tables, columns, types and NOT NULLs."""
    sqlite_url = f"sqlite:///{tmp_path / 'schema.db'}"
    async with opened(sqlite_url):
        pass
    in_sqlite, in_postgres = sqlite_columns(sqlite_url), postgres_columns(pg_database_url)
    assert {"applications", "endpoints", "messages", "deliveries", "attempts"} <= set(in_sqlite)
    assert in_sqlite == in_postgres


@pytest.mark.postgres
async def test_sqlite_and_postgres_define_the_same_indexes(
    tmp_path: Path, pg_database_url: str
) -> None:
    """Both backends' migrations make the same named indexes on the same tables."""
    sqlite_url = f"sqlite:///{tmp_path / 'schema.db'}"
    async with opened(sqlite_url):
        pass
    in_sqlite = query(
        sqlite_url, "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql NOT NULL"
    )
    in_postgres = query(
        pg_database_url,
        "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
        "AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
    )
    assert len(in_sqlite) >= 7
    assert set(in_sqlite) == set(in_postgres)


async def test_many_storages_opening_one_new_sqlite_file_all_succeed(tmp_path: Path) -> None:
    """Storages racing to create one SQLite file wait for each other's locks; none hangs or fails.

    Switching a new file to WAL takes an exclusive lock; a connection without its busy
    handler in place yet used to fail there, killing the writer thread and leaving
    every write of that storage waiting forever.
    """
    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'race{attempt}.db'}"
        stores = [storage_from_url(url, secret_box=TEST_SECRET_BOX) for _ in range(6)]
        try:
            await asyncio.wait_for(asyncio.gather(*(s.open() for s in stores)), 30)
            assert applied_versions(url) == shipped_versions(url)
        finally:
            await asyncio.gather(*(s.close() for s in stores))


def test_connections_switching_one_new_file_to_wal_at_once_all_succeed(tmp_path: Path) -> None:
    """Six connections released together onto one new file all switch it to WAL.

    SQLite refuses one of two connections that both hold a shared lock and want the
    exclusive one with "database is locked" at once, busy handler or not (waiting could
    deadlock); without a retry this failed in about one round in six.
    """
    rounds, width = 40, 6
    failures: list[BaseException] = []
    for attempt in range(rounds):
        path = str(tmp_path / f"wal{attempt}.db")
        barrier = threading.Barrier(width)

        def switch(path: str = path, barrier: threading.Barrier = barrier) -> None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                barrier.wait()
                _switch_to_wal(conn)
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            except BaseException as error:
                failures.append(error)
            finally:
                conn.close()

        threads = [threading.Thread(target=switch) for _ in range(width)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert failures == []


async def test_sqlite_file_that_cannot_be_opened_is_an_error_not_a_hang(tmp_path: Path) -> None:
    """If the writer cannot open its file, open() raises StorageError (the writer lives on)."""
    (tmp_path / "a-directory.db").mkdir()
    store = storage_from_url(f"sqlite:///{tmp_path / 'a-directory.db'}", secret_box=TEST_SECRET_BOX)
    try:
        with pytest.raises(StorageError, match="database error"):
            await asyncio.wait_for(store.open(), 30)
        with pytest.raises(StorageError, match="database error"):
            await asyncio.wait_for(store.migrate(), 30)
    finally:
        await store.close()


def test_statements_split_on_semicolons_and_keep_blocks_whole() -> None:
    """';' ends a statement, except inside '-- begin block' ... '-- end block' (trigger bodies)."""
    script = """-- a comment; with a semicolon
CREATE TABLE a (x INTEGER);
ALTER TABLE a ADD COLUMN y INTEGER; CREATE INDEX a_x ON a (x);
-- begin block
CREATE TRIGGER t AFTER INSERT ON a
BEGIN
    -- inside a block, comments stay
    UPDATE a SET y = 1;
END;
-- end block
DROP TABLE b;
"""
    assert migrations.statements(script) == [
        "CREATE TABLE a (x INTEGER)",
        "ALTER TABLE a ADD COLUMN y INTEGER",
        "CREATE INDEX a_x ON a (x)",
        "CREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n    -- inside a block, comments stay\n"
        "    UPDATE a SET y = 1;\nEND;",
        "DROP TABLE b",
    ]
    with pytest.raises(MigrationError, match="without its"):
        migrations.statements("-- begin block\nCREATE TRIGGER t;")
