"""A published backlog grown to many more due deliveries with SQL, not through the API.

Publishing a million messages through the API would take longer than the whole
benchmark (and on PostgreSQL, which other tests on a shared machine may restart,
a long publish is a long window for a restart to land in). So a copy of a
published backlog (application, endpoints with their sealed secrets, the
messages published through the API) gets ``size - count`` more messages and
deliveries from one ``INSERT ... SELECT`` per table, shaped as hookline's
publish writes them (storage/queries/common.sql: ``insert_message``,
``insert_delivery``): the same columns, 1 KiB payloads, message ``k`` on lane
``k % lanes`` (so :meth:`bench.delivery.Backlog.expected` holds), due
``(k - count + 1)`` microseconds after the newest published one. The published
messages stay first in the queue. Ids are the first 12 characters of an id made
a second after the newest message and ``k`` in 15 digits: valid ids (27 base62
characters) that sort after every published one.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from hookline.domain import ids

from bench.common import EVENT_TYPE, BenchError, payload
from bench.databases import PostgresDatabases, SqliteFiles
from bench.delivery import Backlog

_SQLITE_MESSAGES = """
INSERT INTO messages (id, app_id, event_type, payload, channels, created_at, priority, expires_at)
WITH RECURSIVE n(k) AS (SELECT :first UNION ALL SELECT k + 1 FROM n WHERE k + 1 < :last)
SELECT :msg_prefix || printf('%015d', k), :app_id, :event_type,
       CAST('{"type":"' || :event_type || '","seq":"' || printf('%012d', k)
            || '","data":"' || :padding || '"}' AS BLOB),
       json_array('lane-' || (k % :lanes)),
       :newest + (k - :first + 1) * 1e-6, 1, :newest + :retention + (k - :first + 1) * 1e-6
FROM n
"""
_SQLITE_DELIVERIES = """
INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at,
                        scheduled_at, manual, created_at, updated_at, priority)
WITH RECURSIVE n(k) AS (SELECT :first UNION ALL SELECT k + 1 FROM n WHERE k + 1 < :last)
SELECT :dlv_prefix || printf('%015d', k), :msg_prefix || printf('%015d', k),
       json_extract(:endpoint_ids, '$[' || (k % :lanes) || ']'),
       :app_id, 'pending', 0, due, due, 0, due, due, 1
FROM (SELECT k, :newest + (k - :first + 1) * 1e-6 AS due FROM n) AS n
"""
_POSTGRES_MESSAGES = """
INSERT INTO messages (id, app_id, event_type, payload, channels, created_at, priority, expires_at)
SELECT %(msg_prefix)s || lpad(k::text, 15, '0'), %(app_id)s, %(event_type)s,
       convert_to('{"type":"' || %(event_type)s || '","seq":"' || lpad(k::text, 12, '0')
                  || '","data":"' || %(padding)s || '"}', 'UTF8'),
       '["lane-' || (k %% %(lanes)s) || '"]',
       %(newest)s + (k - %(first)s + 1) * 1e-6, 1,
       %(newest)s + %(retention)s + (k - %(first)s + 1) * 1e-6
FROM generate_series(%(first)s::bigint, %(last)s::bigint - 1) AS k
"""
_POSTGRES_DELIVERIES = """
INSERT INTO deliveries (id, msg_id, endpoint_id, app_id, status, attempts, next_attempt_at,
                        scheduled_at, manual, created_at, updated_at, priority)
SELECT %(dlv_prefix)s || lpad(k::text, 15, '0'), %(msg_prefix)s || lpad(k::text, 15, '0'),
       (%(endpoint_ids)s::jsonb) ->> (k %% %(lanes)s)::int,
       %(app_id)s, 'pending', 0, due, due, 0, due, due, 1
FROM (SELECT k, %(newest)s + (k - %(first)s + 1) * 1e-6 AS due
      FROM generate_series(%(first)s::bigint, %(last)s::bigint - 1) AS k) AS n
"""
_NEWEST = "SELECT max(created_at), max(expires_at) - max(created_at) FROM messages"
_DUE = "SELECT count(*) FROM deliveries WHERE status = 'pending'"


def grow_backlog(backlog: Backlog, size: int, name: str) -> Backlog:
    """A copy of ``backlog`` (SQLite or PostgreSQL) grown to ``size`` due deliveries."""
    if size <= backlog.count or backlog.hanging:
        raise BenchError("a backlog grows only to more than it holds, without hanging endpoints")
    url = backlog.databases.clone(backlog.url, name)
    if isinstance(backlog.databases, SqliteFiles):
        due = _grow_sqlite(url, backlog, size)
    elif isinstance(backlog.databases, PostgresDatabases):
        due = _grow_postgres(url, backlog, size)
    else:
        raise BenchError(f"no SQL to grow a backlog in {type(backlog.databases).__name__}")
    if due != size:
        raise BenchError(f"the grown backlog holds {due} due deliveries, not {size}")
    return Backlog(url, backlog.databases, backlog.setup, size, 0.0)


def _params(backlog: Backlog, size: int, newest: float, retention: float) -> dict[str, Any]:
    return {
        "first": backlog.count,
        "last": size,
        "lanes": backlog.setup.lanes,
        "endpoint_ids": "[" + ",".join(f'"{e}"' for e in backlog.setup.endpoint_ids) + "]",
        "app_id": backlog.setup.app_id,
        "event_type": EVENT_TYPE,
        "padding": payload(0)["data"],
        "newest": newest,
        "retention": retention,
        "msg_prefix": ids.new_id(ids.MESSAGE, newest + 1)[: len(ids.MESSAGE) + 13],
        "dlv_prefix": ids.new_id(ids.DELIVERY, newest + 1)[: len(ids.DELIVERY) + 13],
    }


def _grow_sqlite(url: str, backlog: Backlog, size: int) -> int:
    with contextlib.closing(sqlite3.connect(SqliteFiles.path(url), isolation_level=None)) as db:
        # One writer, nobody reading: no journal, no fsync, a big cache; WAL again after.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -262144")
        params = _params(backlog, size, *db.execute(_NEWEST).fetchone())
        db.execute("BEGIN")
        db.execute(_SQLITE_MESSAGES, params)
        db.execute(_SQLITE_DELIVERIES, params)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode = WAL")
        due: int = db.execute(_DUE).fetchone()[0]
    return due


def _grow_postgres(url: str, backlog: Backlog, size: int) -> int:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute(_NEWEST).fetchone()
            assert row is not None
            params = _params(backlog, size, row[0], row[1])
            conn.execute(_POSTGRES_MESSAGES, params)
            conn.execute(_POSTGRES_DELIVERIES, params)
            conn.commit()
            conn.execute("ANALYZE messages")  # as autovacuum soon would after a bulk insert
            conn.execute("ANALYZE deliveries")
            conn.commit()
            counted = conn.execute(_DUE).fetchone()
    except psycopg.Error as error:
        raise BenchError(f"PostgreSQL: {error}") from error
    assert counted is not None
    return int(counted[0])
