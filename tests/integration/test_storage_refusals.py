"""How storage failures map, on SQLite and PostgreSQL: the input's fault or an outage.

A value a backend cannot keep (a lone surrogate, an integer past 64 bits, JSON
nested past the encoder's limit, a NUL in PostgreSQL text) is ``InputRefused``,
a ``ValidationError`` the API answers 422 with a generic message; nothing is
written, and the other writes of the same group are untouched. A real outage is
a ``StorageError``, which the API answers 503 without the driver's words.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import psycopg
import pytest

from hookline.api.errors import STORAGE_UNAVAILABLE, hookline_error_response
from hookline.domain import ids
from hookline.domain.ids import new_id
from hookline.domain.models import Application, EventType
from hookline.errors import StorageError
from hookline.storage import Storage
from hookline.storage.faults import REFUSED_DETAIL, InputRefused
from hookline.storage.postgres import PostgresStorage
from hookline.storage.records import Cursor

import pg
from support.keyring import TEST_SECRET_BOX

T0 = 1_700_000_000.0


def application(**fields: Any) -> Application:
    values: dict[str, Any] = {"name": "Acme", "metadata": {}, "created_at": T0, "updated_at": T0}
    return Application(id=new_id(ids.APPLICATION, T0), **{**values, **fields})


def nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "lone \ud800 surrogate"},
        {"metadata": {"key": "lone \udfff"}},
        {"metadata": {"\ud83d": "a key"}},
        {"rate_limit": 2**70},
    ],
    ids=["surrogate name", "surrogate metadata value", "surrogate metadata key", "huge integer"],
)
async def test_an_application_no_backend_can_keep_is_refused_and_not_written(
    storage: Storage, bad: dict[str, Any]
) -> None:
    """Values past the edge's rule are refused by storage too: 422-shaped, nothing written."""
    with pytest.raises(InputRefused) as refused:
        await storage.create_application(application(**bad))
    assert refused.value.detail == REFUSED_DETAIL
    assert (await storage.list_applications(Cursor(limit=10))).data == []


async def test_schemas_nested_past_the_encoder_are_refused(storage: Storage) -> None:
    """An event type's schemas nested past what the JSON encoder writes: refused, not a 500."""
    event_type = EventType(name="deep", schemas={"1": nested(300)}, created_at=T0, updated_at=T0)
    with pytest.raises(InputRefused):
        await storage.create_event_type(event_type)
    assert (await storage.list_event_types(Cursor(limit=10), include_archived=True)).data == []


async def test_a_refused_write_leaves_the_others_of_its_group_alone(storage: Storage) -> None:
    """Writes queued together (one SQLite group commit): the bad one alone fails."""
    good = [application(name=f"good {n}") for n in range(5)]
    results = await asyncio.gather(
        *(storage.create_application(app) for app in good),
        storage.create_application(application(name="bad \ud800")),
        return_exceptions=True,
    )
    assert isinstance(results[-1], InputRefused)
    assert not any(isinstance(result, BaseException) for result in results[:-1])
    listed = await storage.list_applications(Cursor(limit=10))
    assert sorted(app.name for app in listed.data) == sorted(app.name for app in good)


@pytest.mark.postgres
async def test_a_nul_in_postgresql_text_is_refused_not_an_outage(pg_database_url: str) -> None:
    """PostgreSQL's text holds no NUL: its DataError is the input's fault (once a 503
    ``storage_unavailable`` with the driver's message in the answer)."""
    storage = PostgresStorage(pg_database_url, secret_box=TEST_SECRET_BOX, pool_size=2)
    await storage.open()
    try:
        with pytest.raises(InputRefused):
            await storage.create_application(application(name="a\x00b"))
        event_type = EventType(name="nul", description="d\x00", created_at=T0, updated_at=T0)
        with pytest.raises(InputRefused):
            await storage.create_event_type(event_type)
        assert (await storage.list_applications(Cursor(limit=10))).data == []
    finally:
        await pg.close_promptly(storage)


@pytest.mark.postgres
async def test_a_lost_connection_is_an_outage_answered_without_the_drivers_words(
    pg_database_url: str,
) -> None:
    """A connection the server dropped is a StorageError; the API's 503 says only that
    storage is unavailable; the next operation reconnects and works."""
    storage = PostgresStorage(pg_database_url, secret_box=TEST_SECRET_BOX, pool_size=1)
    await storage.open()
    try:
        await storage.list_applications(Cursor(limit=1))  # the pool's connection is made
        database = pg_database_url.rsplit("/", 1)[-1]
        with psycopg.connect(pg.server_url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        with pytest.raises(StorageError) as lost:
            await storage.list_applications(Cursor(limit=1))
        answer = hookline_error_response(lost.value, "/api/v1/app")
        assert answer.status_code == 503
        assert orjson.loads(answer.body) == {
            "code": "storage_unavailable",
            "detail": STORAGE_UNAVAILABLE,
        }
        assert (await storage.list_applications(Cursor(limit=1))).data == []
    finally:
        await pg.close_promptly(storage)
