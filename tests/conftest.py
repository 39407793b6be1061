"""Shared fixtures. Storage: a fresh database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hookline.storage import Storage, storage_from_url

import pg
from support.keyring import TEST_SECRET_BOX

#: The storage backends every contract test runs against.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.Server]:
    """The PostgreSQL server under test, with a migrated template database for the session."""
    server = pg.Server(pg.server_url())
    server.require_reachable()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_database_url(pg_server: pg.Server) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped afterwards."""
    with pg_server.database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL of this test's own, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hookline.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    """An open, migrated, empty ``Storage``, closed after the test."""
    store = storage_from_url(database_url, secret_box=TEST_SECRET_BOX)
    await store.open()
    yield store
    await pg.close_promptly(store)
