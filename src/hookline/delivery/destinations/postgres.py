"""PostgreSQL (``postgres``): rows in a table of the user's database, on psycopg 3.

Configuration (the svix SDK's): ``url`` (``postgresql://user@host:port/dbname``, an
optional ``sslmode``), ``password``, ``tableName`` (``table`` or ``schema.table``),
``sslRootCert`` (optional: the PEM of the CA that signed the server's certificate; with
it the connection verifies the server, ``sslmode=verify-full``). The table is the
user's, made beforehand (hookline never creates or alters it)::

    CREATE TABLE webhook_messages (
        message_id text PRIMARY KEY,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        "timestamp" timestamptz NOT NULL,
        headers jsonb NOT NULL
    );

A batch is one ``INSERT ... ON CONFLICT (message_id) DO NOTHING`` of many rows in one
transaction: a retry after a crash (the rows committed, the attempt never recorded)
inserts nothing twice. A body that is not JSON is stored as a JSON string of its text.
A missing table, column or unique key is a failed attempt that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from hookline.domain.outcome import ErrorClass
from hookline.domain.ssrf import BlockedDestination

from .common import (
    DestinationChannel,
    Outgoing,
    Refused,
    checked_host,
    config_text,
    count,
    parse_url,
)

#: Schemes (libpq's two spellings), and whether each is TLS (``sslmode`` decides).
SCHEMES = {"postgresql": False, "postgres": False}
#: The only connection parameters taken from a destination's URL: others (``sslkey``,
#: ``passfile``, ``service``, ``hostaddr``...) would read this machine's files or
#: bypass the address check.
URL_PARAMETERS = ("sslmode", "application_name", "connect_timeout")
#: Connections a destination keeps (concurrent batches to one table).
POOL_SIZE = 4
COLUMNS = ("message_id", "event_type", "payload", "timestamp", "headers")


@dataclass(slots=True)
class PostgresLink:
    """A few connections to one destination database, and the statement for its table.

    psycopg_pool's pool hides a failed connection's reason behind "couldn't get a
    connection after N s"; an attempt must say why (refused, bad password, unknown
    database), so connections are opened here, on demand, and kept for reuse."""

    parameters: dict[str, Any]
    statement: sql.Composed
    table: str
    idle: list[psycopg.AsyncConnection[Any]] = field(default_factory=list)
    cert_file: str | None = None
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(POOL_SIZE))

    async def take(self) -> psycopg.AsyncConnection[Any]:
        """An idle connection, or a new one."""
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return connection
        return await psycopg.AsyncConnection.connect(**self.parameters)

    async def give_back(self, connection: psycopg.AsyncConnection[Any], healthy: bool) -> None:
        """Keep ``connection`` for the next batch, or close it if it failed."""
        if healthy and not connection.closed and len(self.idle) < POOL_SIZE:
            self.idle.append(connection)
        else:
            await connection.close()


class PostgresChannel(DestinationChannel[PostgresLink]):
    """Inserts each batch in one transaction, once per message id."""

    name = "PostgreSQL"

    async def connect(self, config: Mapping[str, Any]) -> PostgresLink:
        """Check the host, build the connection parameters and the INSERT; the first
        connection is opened by the first send."""
        parts = parse_url(config.get("url"), SCHEMES, "url")
        address = await checked_host(parts.hostname, self.policy)
        given = conninfo_to_dict(str(config["url"]))
        if "," in str(given.get("host", "")):
            raise BlockedDestination("a PostgreSQL destination names one host")
        parameters: dict[str, Any] = {k: given[k] for k in URL_PARAMETERS if k in given}
        # libpq connects to hostaddr (the checked address) and checks TLS against host.
        parameters.update(
            host=parts.hostname, hostaddr=address, port=parts.port or 5432,
            dbname=given.get("dbname") or "postgres", user=given.get("user") or "postgres",
            connect_timeout=max(1, int(self.connect_timeout)), autocommit=False,
        )  # fmt: skip
        password = config.get("password") or given.get("password")
        if password:
            parameters["password"] = password
        cert_file = None
        root_cert = config.get("sslRootCert")
        if isinstance(root_cert, str) and root_cert.strip():
            cert_file = _write_cert(root_cert)
            parameters.update(sslrootcert=cert_file, sslmode="verify-full")
        table = config_text(config, "tableName")
        return PostgresLink(parameters, insert_statement(table), table, cert_file=cert_file)

    def classify(self, error: BaseException) -> ErrorClass:
        """libpq says why a connection failed only in words."""
        text = str(error)
        if isinstance(error, psycopg.OperationalError):
            if "Connection refused" in text:
                return ErrorClass.CONNECTION_REFUSED
            if "timeout expired" in text:
                return ErrorClass.CONNECT_TIMEOUT
            if "authentication failed" in text or "does not exist" in text:
                return ErrorClass.REJECTED
        return super().classify(error)

    async def disconnect(self, connection: PostgresLink) -> None:
        """Close the idle connections and remove the certificate file."""
        while connection.idle:
            await connection.idle.pop().close()
        if connection.cert_file:
            with contextlib.suppress(OSError):
                os.unlink(connection.cert_file)

    async def publish(
        self, connection: PostgresLink, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """One INSERT of every row, in one transaction."""
        async with connection.slots:
            conn = await connection.take()
            healthy = False
            try:
                inserted = await _insert(conn, connection, messages)
                healthy = True
            except psycopg.errors.DatabaseError as error:
                refused = _refusal(error, connection, config)
                healthy = refused is not None and not conn.closed
                if refused is not None:
                    with contextlib.suppress(psycopg.Error):
                        await conn.rollback()
                    raise refused from None
                raise
            finally:
                await connection.give_back(conn, healthy)
        skipped = len(messages) - inserted
        said = f"PostgreSQL inserted {count(inserted, 'row')} into {connection.table}"
        return f"{said} ({skipped} already there)" if skipped else said


async def _insert(
    conn: psycopg.AsyncConnection[Any], link: PostgresLink, messages: Sequence[Outgoing]
) -> int:
    """Insert the rows and commit; answer how many were new."""
    rows = [
        [m.msg_id for m in messages],
        [m.event_type for m in messages],
        [Jsonb(_json(m.body)) for m in messages],
        [datetime.fromtimestamp(m.timestamp, UTC) for m in messages],
        [Jsonb(m.headers) for m in messages],
    ]
    async with conn.cursor() as cursor:
        await cursor.execute(link.statement, rows)
        inserted = len(await cursor.fetchall())
    await conn.commit()
    return inserted


def insert_statement(table: str) -> sql.Composed:
    """The INSERT of many rows into ``table`` (``schema.table`` allowed), every name
    quoted as an identifier, a message id already there skipped."""
    names = table.split(".", 1)
    if any(not name for name in names):
        raise Refused(ErrorClass.INVALID_CONFIG, f"tableName {table!r} is not a table name")
    return sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT * FROM unnest("
        "%s::text[], %s::text[], %s::jsonb[], %s::timestamptz[], %s::jsonb[]) "
        "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
    ).format(
        table=sql.Identifier(*names),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS),
    )


def _refusal(
    error: psycopg.errors.DatabaseError, link: PostgresLink, config: Mapping[str, Any]
) -> Refused | None:
    """The failed attempt for an answer from the database about the table (None for
    connection trouble, which the caller raises as it is)."""
    database = link.parameters.get("dbname")
    if isinstance(error, errors.UndefinedTable):
        return Refused(
            ErrorClass.REJECTED,
            f"PostgreSQL: table {link.table!r} does not exist in database {database!r}; "
            "hookline does not create it (see docs/destination-channels.md for its columns)",
        )
    if isinstance(error, errors.InvalidColumnReference):
        return Refused(
            ErrorClass.REJECTED,
            f"PostgreSQL: table {link.table!r} needs a unique key on message_id "
            "(message_id text PRIMARY KEY)",
        )
    if isinstance(error, errors.ProgrammingError | errors.DataError | errors.IntegrityError):
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        return Refused(ErrorClass.REJECTED, f"PostgreSQL refused the rows: {detail}")
    del config
    return None


def _json(body: bytes) -> Any:
    """The body as a JSON value (a body that is not JSON, as a JSON string)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def _write_cert(pem: str) -> str:
    """The CA certificate in a private file for libpq (which reads a path)."""
    handle, path = tempfile.mkstemp(prefix="hookline-ca-", suffix=".pem")
    with os.fdopen(handle, "w") as file:
        file.write(pem)
    return path
