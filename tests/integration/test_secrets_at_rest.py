"""Endpoint secrets at rest: sealed in the database, plaintext to callers, re-keyable.

Part of the storage contract, run against SQLite and PostgreSQL alike. The raw
checks look past the storage: at the ``endpoints`` rows through a connection of
their own and, on SQLite, at the bytes of the database file and its WAL.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from hookline.domain import ids
from hookline.domain.models import Application, Endpoint, Message, SigningKey, Source
from hookline.domain.secrets import SEALED_PREFIX, SecretBox, key_id
from hookline.errors import SecretKeyError
from hookline.storage import Storage, storage_from_url
from hookline.storage.base import Cursor

import pg
from support.database import dialect, query
from support.keyring import OTHER_TEST_KEY, TEST_KEY, TEST_SECRET_BOX

T0 = 1_700_000_000.0
SECRET = "whsec_" + base64.b64encode(b"current secret of the endpoint!!").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"old secret, still signing a day").decode()
KEY_A = key_id(base64.urlsafe_b64decode(TEST_KEY))
KEY_B = key_id(base64.urlsafe_b64decode(OTHER_TEST_KEY))


def revealing_forms(secret: str) -> list[bytes]:
    """What would give a secret away if found in the database: its text, base64 body, bytes."""
    body = secret.removeprefix("whsec_")
    return [secret.encode(), body.encode(), base64.b64decode(body)]


@asynccontextmanager
async def opened(url: str, box: SecretBox) -> AsyncIterator[Storage]:
    store = storage_from_url(url, secret_box=box)
    await store.open()
    try:
        yield store
    finally:
        await pg.close_promptly(store)


async def add_app(storage: Storage) -> Application:
    app = Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", created_at=T0, updated_at=T0)
    return await storage.create_application(app)


async def add_endpoint(storage: Storage, app: Application, **fields: Any) -> Endpoint:
    values: dict[str, Any] = {"url": "https://example.com/hook", "secret": SECRET}
    values.update(fields)
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, created_at=T0, updated_at=T0, **values
    )
    return await storage.create_endpoint(endpoint)


def raw_secret_columns(url: str) -> dict[str, tuple[str, str]]:
    """Each endpoint's ``secret`` and ``old_secrets`` columns as stored."""
    rows = query(url, "SELECT id, secret, old_secrets FROM endpoints")
    return {row[0]: (row[1], row[2]) for row in rows}


def raw_endpoint_rows(url: str) -> list[bytes]:
    """Every column of every endpoint row, as bytes (``SELECT *`` on a plain connection)."""
    return [str(value).encode() for row in query(url, "SELECT * FROM endpoints") for value in row]


def sqlite_files(url: str) -> list[Path]:
    """The database file and its write-ahead log, where SQLite has written."""
    path = Path(url.removeprefix("sqlite:///"))
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]


async def test_secrets_are_sealed_in_the_database(storage: Storage, database_url: str) -> None:
    """No form of a current or old secret is found in the raw rows, nor in SQLite's files."""
    app = await add_app(storage)
    old = (SigningKey(OLD_SECRET, expires_at=T0 + 86400),)
    endpoint = await add_endpoint(storage, app, old_secrets=old)

    secret_column, old_column = raw_secret_columns(database_url)[endpoint.id]
    assert secret_column.startswith(f"{SEALED_PREFIX}{KEY_A}:")
    assert old_column.count(f"{SEALED_PREFIX}{KEY_A}:") == 1
    stored = raw_endpoint_rows(database_url)
    for form in revealing_forms(SECRET) + revealing_forms(OLD_SECRET):
        assert not any(form in value for value in stored)
    if dialect(database_url) == "sqlite":
        files = sqlite_files(database_url)
        assert files  # the file at least, and the WAL while the storage is open
        for path in files:
            content = path.read_bytes()
            for form in revealing_forms(SECRET) + revealing_forms(OLD_SECRET):
                assert form not in content, f"{form!r} found in {path.name}"


async def test_readers_get_the_plaintext(storage: Storage) -> None:
    """Endpoint reads and claimed deliveries carry the secrets in plain text."""
    app = await add_app(storage)
    old = (SigningKey(OLD_SECRET, expires_at=T0 + 86400),)
    endpoint = await add_endpoint(storage, app, old_secrets=old)
    assert (await storage.get_endpoint(app.id, endpoint.id)).secret == SECRET
    [listed] = (await storage.list_endpoints(app.id, Cursor())).data
    assert (listed.secret, listed.old_secrets) == (SECRET, old)

    message = Message(
        id=ids.new_id(ids.MESSAGE, T0), app_id=app.id, event_type="invoice.paid",
        payload=b"{}", created_at=T0,
    )  # fmt: skip
    await storage.publish(message)
    [claimed] = await storage.claim("w1", T0, T0 + 30, 10)
    assert (claimed.secret, claimed.old_secrets) == (SECRET, old)


async def test_rotated_secret_is_sealed_too(storage: Storage, database_url: str) -> None:
    """An update (a secret rotation) seals the new secret and the one kept as old."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app)
    rotated = replace(endpoint, secret=OLD_SECRET, old_secrets=(SigningKey(SECRET, T0),))
    await storage.update_endpoint(rotated)
    assert await storage.get_endpoint(app.id, endpoint.id) == rotated
    stored = raw_endpoint_rows(database_url)
    for form in revealing_forms(SECRET) + revealing_forms(OLD_SECRET):
        assert not any(form in value for value in stored)


async def test_a_database_without_the_key_fails_clearly(database_url: str) -> None:
    """Reading secrets sealed under a key the storage lacks raises SecretKeyError naming it."""
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        endpoint = await add_endpoint(storage, app)
    async with opened(database_url, SecretBox.from_text(OTHER_TEST_KEY)) as storage:
        with pytest.raises(SecretKeyError, match=KEY_A) as caught:
            await storage.get_endpoint(app.id, endpoint.id)
    assert SECRET not in caught.value.detail


async def test_an_unreadable_secret_spoils_only_its_own_delivery(database_url: str) -> None:
    """A claim hands out the other deliveries; the unreadable one comes with its problem."""
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        sealed_elsewhere = await add_endpoint(storage, app)
    async with opened(database_url, SecretBox.from_text(f"{OTHER_TEST_KEY},{TEST_KEY}")) as storage:
        readable = await add_endpoint(storage, app)
    async with opened(database_url, SecretBox.from_text(OTHER_TEST_KEY)) as storage:
        message = Message(
            id=ids.new_id(ids.MESSAGE, T0), app_id=app.id, event_type="a.b", payload=b"{}",
            created_at=T0,
        )  # fmt: skip
        await storage.publish(message)
        claimed = {c.endpoint_id: c for c in await storage.claim("w1", T0, T0 + 30, 10)}
    assert claimed[readable.id].problem is None
    assert claimed[readable.id].secret == readable.secret
    spoiled = claimed[sealed_elsewhere.id]
    assert spoiled.secret == ""
    assert spoiled.problem is not None
    assert KEY_A in spoiled.problem
    assert SECRET not in spoiled.problem


async def test_rekey_reseals_everything_under_the_new_key(database_url: str) -> None:
    """Rekey under "B,A" re-seals A's and legacy plaintext rows; B alone then reads them all."""
    old = (SigningKey(OLD_SECRET, expires_at=T0 + 86400),)
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        endpoints = [await add_endpoint(storage, app, old_secrets=old) for _ in range(5)]
    legacy = endpoints[0]
    # A row as written before secrets were encrypted: plaintext in both columns.
    legacy_old = f'[{{"secret": "{OLD_SECRET}", "expires_at": {T0 + 86400}}}]'
    query(
        database_url,
        "UPDATE endpoints SET secret = ?, old_secrets = ? WHERE id = ?",
        (SECRET, legacy_old, legacy.id),
    )
    before = raw_secret_columns(database_url)

    rotating = SecretBox.from_text(f"{OTHER_TEST_KEY},{TEST_KEY}")
    async with opened(database_url, rotating) as storage:
        result = await storage.rekey_secrets(batch_size=2)  # three batches
        assert (result.rewritten, result.skipped) == (5, 0)
        again = await storage.rekey_secrets(batch_size=2)
        assert (again.rewritten, again.skipped) == (0, 0)

    after = raw_secret_columns(database_url)
    for endpoint in endpoints:
        secret_column, old_column = after[endpoint.id]
        assert after[endpoint.id] != before[endpoint.id]
        assert secret_column.startswith(f"{SEALED_PREFIX}{KEY_B}:")
        assert old_column.count(f"{SEALED_PREFIX}{KEY_B}:") == 1
    async with opened(database_url, SecretBox.from_text(OTHER_TEST_KEY)) as storage:
        for endpoint in endpoints:
            read = await storage.get_endpoint(app.id, endpoint.id)
            assert (read.secret, read.old_secrets) == (SECRET, old)


class _RotateAfterRead:
    """A connection on which another writer changes a secret just after the re-key reads."""

    def __init__(self, conn: Any, page_query: str, rotate: Callable[[], None]) -> None:
        self.conn = conn
        self.page_query = page_query
        self.rotate = rotate

    def execute(self, statement: str, params: Any = ()) -> Any:
        cursor = self.conn.execute(statement, params)
        if statement == self.page_query:
            rows = cursor.fetchall()
            self.rotate()
            return _Fetched(rows)
        return cursor


class _Fetched:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchall(self) -> list[Any]:
        return self.rows


def _raw_connection(url: str) -> Any:
    """A connection of the kind the operations run on: rows read by column name."""
    if dialect(url) == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


async def test_rekey_never_overwrites_a_concurrent_rotation(database_url: str) -> None:
    """A row whose secret changes between the re-key's read and write keeps the new secret."""
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        endpoint = await add_endpoint(storage, app)
    rotating = SecretBox.from_text(f"{OTHER_TEST_KEY},{TEST_KEY}")
    store = storage_from_url(database_url, secret_box=rotating)
    operations = store.ops  # type: ignore[attr-defined]
    concurrent = "whsec_" + base64.b64encode(b"rotated by the API meanwhile....").decode()

    def rotate() -> None:
        statement = "UPDATE endpoints SET secret = ? WHERE id = ?"
        query(database_url, statement, (concurrent, endpoint.id))

    conn = _raw_connection(database_url)
    try:
        wrapped = _RotateAfterRead(conn, operations.q("endpoint_secrets_after"), rotate)
        page = operations.rekey_page(wrapped, "", 10)
        assert (page.scanned, page.rewritten, page.changed) == (1, 0, 1)
        assert raw_secret_columns(database_url)[endpoint.id][0] == concurrent
        # The next pass finds the changed row and re-seals what is there now.
        page = operations.rekey_page(conn, "", 10)
        assert (page.rewritten, page.changed) == (1, 0)
    finally:
        conn.close()
    async with opened(database_url, SecretBox.from_text(OTHER_TEST_KEY)) as storage:
        assert (await storage.get_endpoint(app.id, endpoint.id)).secret == concurrent


async def test_rekey_reseals_inbound_sources_too(database_url: str) -> None:
    """A source's receiving token and secrets move to the new key with the endpoints."""
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        source = await storage.create_source(
            Source(
                id=ids.new_id(ids.SOURCE, T0), app_id=app.id, name="stripe",
                token="hk_in_receiving-token-0123456789", verifier="stripe",
                secrets=("whsec_provider_secret_one",), created_at=T0, updated_at=T0,
            )
        )  # fmt: skip
    rotating = SecretBox.from_text(f"{OTHER_TEST_KEY},{TEST_KEY}")
    async with opened(database_url, rotating) as storage:
        result = await storage.rekey_secrets()
        assert result.rewritten == 1
    async with opened(database_url, SecretBox.from_text(OTHER_TEST_KEY)) as storage:
        assert await storage.find_source(source.token) == source


async def test_stored_idempotent_answers_are_sealed(storage: Storage, database_url: str) -> None:
    """An answer kept for an Idempotency-Key (a rotated secret, a new token) is not plaintext."""
    from hookline.storage.base import IdempotentResponse

    body = f'{{"key": "{SECRET}"}}'.encode()
    await storage.put_idempotent("k1", IdempotentResponse("fp", 200, body, T0))
    (stored,) = query(database_url, "SELECT body FROM idempotency_keys", ())
    raw = bytes(stored[0])
    assert SECRET.encode() not in raw
    assert raw.startswith(SEALED_PREFIX.encode())
    found = await storage.get_idempotent("k1")
    assert found is not None
    assert found.body == body
