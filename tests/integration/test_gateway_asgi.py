"""The gateway's own ASGI handling, driven in-process against a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hookline.api.app import create_app
from hookline.api.batching import receive_batcher
from hookline.domain import ids
from hookline.domain.inbound import MAX_PLAIN_KEY, dedup_key, received_message
from hookline.domain.models import Application, Source
from hookline.settings import Settings
from hookline.storage import Storage, storage_from_url
from hookline.storage.base import Cursor, MessageFilter

from support.keyring import TEST_SECRET_BOX

T0 = 1_700_000_000.0


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = storage_from_url(f"sqlite:///{tmp_path / 'g.db'}", secret_box=TEST_SECRET_BOX)
    await store.open()
    yield store
    await store.close()


async def source_in(storage: Storage, verifier: str = "none") -> Source:
    app = await storage.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", created_at=T0, updated_at=T0)
    )
    return await storage.create_source(
        Source(
            id=ids.new_id(ids.SOURCE, T0), app_id=app.id, name="s", token="hk_in_tok-0123456789",
            verifier=verifier, created_at=T0, updated_at=T0,
        )
    )  # fmt: skip


async def test_a_body_cut_short_by_a_disconnect_is_never_stored(storage: Storage) -> None:
    source = await source_in(storage)
    app = create_app(Settings(), storage)
    arriving = [
        {"type": "http.request", "body": b'{"order": 1, "amount": 10', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return arriving.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": f"/in/{source.token}", "headers": [],
             "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 80)}  # fmt: skip
    await app(scope, receive, send)
    assert sent == []
    page = await storage.list_messages(source.app_id, Cursor(), MessageFilter())
    assert page.data == []


async def test_one_bad_event_does_not_fail_its_batch(storage: Storage) -> None:
    source = await source_in(storage)
    batcher = receive_batcher(storage)
    good = [received_message(source, b"{}", {}, "a.b", T0 + n) for n in range(5)]
    # A message of an application that no longer exists breaks its foreign key.
    bad = replace(received_message(source, b"{}", {}, "a.b", T0 + 9), app_id="app_gone")
    results = await asyncio.gather(
        *(batcher.submit((m, None, 60)) for m in [*good[:3], bad, *good[3:]]),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1
    page = await storage.list_messages(source.app_id, Cursor(), MessageFilter())
    assert len(page.data) == 5


def test_long_provider_ids_are_hashed_for_the_index() -> None:
    assert dedup_key("evt_123") == "evt_123"
    assert dedup_key(None) is None
    long_id = "x" * (MAX_PLAIN_KEY + 1)
    hashed = dedup_key(long_id)
    assert hashed is not None
    assert hashed.startswith("sha256:")
    assert len(hashed) == 71
    assert dedup_key(long_id) == hashed
