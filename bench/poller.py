"""A poller consumer's reads against a plain paginated SELECT of the same messages.

``python -m bench.poller``: N messages are stored in one application with a polling
destination; then, the best of a few rounds of each, alternated:

- **hookline**: a consumer reads them all through ``Storage.consumer_poll`` (pages of
  250: the poller's filters, the message records with their headers, the consumer's
  position written, and committed, in the same transaction as each read); and a reader
  through ``Storage.poll_messages`` with the iterator each page hands back (no write);
- **ceiling**: the same database read by its bare driver (sqlite3, psycopg), the same
  pages of the same columns by ``id > last ORDER BY id LIMIT 250`` on the same index,
  rows fetched and nothing else.

The row is messages per second of each and their ratio (goal: at least 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from hookline.domain import ids
from hookline.domain.destinations import Destination
from hookline.domain.models import Application, Endpoint, Message
from hookline.domain.secrets import SecretBox
from hookline.storage import Storage, storage_from_url
from hookline.storage.base import PollQuery

from bench.report import Row, machine, save, table

GOAL = 0.7
PAGE = 250
T0 = time.time() - 3600
PAYLOAD = b'{"type":"invoice.paid","data":{"id":"inv_0001","amount":1200,"currency":"EUR"}}'
SELECT = (
    "SELECT id, app_id, event_type, event_id, payload, channels, tags, created_at, priority, "
    "headers FROM messages WHERE app_id = {p} AND id > {p} ORDER BY id LIMIT {n}"
)


async def fill(storage: Storage, count: int) -> tuple[str, Endpoint]:
    """An application with a poller and ``count`` messages, an hour old."""
    app = await storage.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), name="bench", created_at=T0, updated_at=T0)
    )
    poller = await storage.create_endpoint(Endpoint(
        id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, url="pollingEndpoint:",
        secret="whsec_" + "A" * 32, created_at=T0, updated_at=T0,
        destination=Destination("pollingEndpoint", {}),
    ))  # fmt: skip
    for start in range(0, count, 500):
        batch = [
            Message(id=ids.new_id(ids.MESSAGE, T0 + n * 1e-4), app_id=app.id,
                    event_type="invoice.paid", payload=PAYLOAD, created_at=T0 + n * 1e-4)
            for n in range(start, min(count, start + 500))
        ]  # fmt: skip
        await storage.publish_many(batch)
    return app.id, poller


def _query(app_id: str) -> PollQuery:
    return PollQuery(
        app_id=app_id, after=None, start=ids.floor_id(ids.MESSAGE, T0 - 1),
        before=ids.floor_id(ids.MESSAGE, time.time()), limit=PAGE,
    )  # fmt: skip


async def through_consumer(storage: Storage, app_id: str, poller: Endpoint, consumer: str) -> int:
    """Read every message as one consumer (its position written with each page)."""
    poll, read = _query(app_id), 0
    while True:
        found = await storage.consumer_poll(poller.id, consumer, poll, time.time())
        read += len(found.messages)
        if found.done:
            return read


async def through_iterator(storage: Storage, app_id: str, poller: Endpoint, consumer: str) -> int:
    """Read every message with the iterator each page hands back (nothing written)."""
    poll, read = _query(app_id), 0
    while True:
        found = await storage.poll_messages(poll)
        read += len(found.messages)
        if found.done:
            return read
        poll = replace(poll, after=found.iterator)


def bare_sqlite(path: str, app_id: str) -> int:
    """The same pages through sqlite3."""
    with sqlite3.connect(path) as db:
        return _pages(db.execute, SELECT.format(p="?", n=PAGE), app_id)


def bare_postgres(url: str, app_id: str) -> int:
    """The same pages through psycopg."""
    with psycopg.connect(url) as db:
        return _pages(db.execute, SELECT.format(p="%s", n=PAGE), app_id)


def _pages(execute: Any, statement: str, app_id: str) -> int:
    after, read = "", 0
    while True:
        rows = execute(statement, (app_id, after)).fetchall()
        read += len(rows)
        if len(rows) < PAGE:
            return read
        after = rows[-1][0]


@contextlib.contextmanager
def database(server: str) -> Iterator[str]:
    """A SQLite file, or (``server`` given) a fresh PostgreSQL database on it, dropped
    afterwards: the bench never writes hookline's schema into an existing database."""
    if not server:
        yield f"sqlite:///{Path(tempfile.mkdtemp(prefix='hookline-bench-poller-')) / 'p.db'}"
        return
    name = f"hookline_bench_poller_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


async def main(args: argparse.Namespace) -> list[Row]:
    with database(args.postgres_url) as url:
        return await measure(args, url)


async def measure(args: argparse.Namespace, url: str) -> list[Row]:
    storage = storage_from_url(url, secret_box=SecretBox([bytes(32)]))
    await storage.open()
    best = {"consumer": 0.0, "iterator": 0.0, "ceiling": 0.0}
    try:
        app_id, poller = await fill(storage, args.count)
        for n in range(args.rounds):
            started = time.perf_counter()
            if url.startswith("sqlite"):
                read = await asyncio.to_thread(bare_sqlite, url.removeprefix("sqlite:///"), app_id)
            else:
                read = await asyncio.to_thread(bare_postgres, url, app_id)
            assert read == args.count, read
            best["ceiling"] = max(best["ceiling"], read / (time.perf_counter() - started))
            for name, reader in (("consumer", through_consumer), ("iterator", through_iterator)):
                started = time.perf_counter()
                read = await reader(storage, app_id, poller, f"consumer-{n}")
                assert read == args.count, read
                best[name] = max(best[name], read / (time.perf_counter() - started))
    finally:
        await storage.close()
    backend = url.split(":", 1)[0]
    return [
        Row(
            f"poller ({backend}): messages/s, {how}, pages of {PAGE}",
            f"{best[name]:,.0f}", f"{best['ceiling']:,.0f}",
            f"{best[name] / best['ceiling']:.2f}", f">= {GOAL}",
            {"backend": backend, "count": args.count, "reader": name, **best},
        )
        for name, how in (("consumer", "consumer_poll (position kept)"),
                          ("iterator", "poll with its iterator"))
    ]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.poller", description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=5000, help="messages stored")
    parser.add_argument("--rounds", type=int, default=3, help="reads of each (best kept)")
    parser.add_argument(
        "--postgres-url", default="",
        help="a PostgreSQL server to make (and drop) a fresh database on; default: SQLite",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not (1 <= args.count <= 200_000 and 1 <= args.rounds <= 5):
        parser.error("count 1..200000, rounds 1..5")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    found = asyncio.run(main(arguments))
    print(table(found))
    saved = save({"figure": "poller", "machine": machine(), "rows": [r.data for r in found]})
    print(f"saved {saved}")
