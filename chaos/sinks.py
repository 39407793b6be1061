"""The brokers and the database a broker-mode run delivers to, read back afterwards.

Each ``Sink`` makes a fresh place of its own on a real server (a durable RabbitMQ queue, a
Redis stream, a JetStream stream, a PostgreSQL table), gives the destination
configuration that delivers there, and reads back every message that arrived with the
message id it carries (``message_id`` property, ``id`` field, ``Nats-Msg-Id`` header,
``message_id`` column), so that duplicates show and can be counted. ``remove`` deletes
what ``prepare`` made.

The addresses come from the environment, with this machine's defaults, as the tests'
(``HOOKLINE_TEST_RABBITMQ_URL``, ``HOOKLINE_TEST_REDIS_URL``, ``HOOKLINE_TEST_NATS_URL``;
PostgreSQL is the run's ``postgres_url``).
"""

from __future__ import annotations

import abc
import asyncio
import os
from dataclasses import dataclass
from typing import Any

import orjson

#: Each kind's address: its environment variable and default.
ADDRESSES = {
    "rabbitmq": ("HOOKLINE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "redis": ("HOOKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "nats": ("HOOKLINE_TEST_NATS_URL", "nats://127.0.0.1:4222"),
}
KINDS = ("rabbitmq", "redis", "nats", "postgres")


def address(kind: str) -> str:
    """The URL of the ``kind`` broker this run uses."""
    variable, default = ADDRESSES[kind]
    return os.environ.get(variable) or default


@dataclass(frozen=True)
class Arrived:
    """One message as the sink holds it."""

    msg_id: str
    #: ``webhook-id`` as the message carries it (the message id, when signed as it must be).
    webhook_id: str
    body: bytes


class Sink(abc.ABC):
    """One broker destination of the run."""

    #: The kind's name in the report, and hookline's destination type for it.
    kind = ""
    destination_type = ""
    #: Whether a second copy cannot be stored (JetStream's dedup window, the unique key):
    #: then a duplicate is a failure, not a crash's at-least-once.
    exactly_once = False
    #: The destination's batchSize (a batch is one publish; a kill may cost all of it).
    batch_size = 1

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.arrived: list[Arrived] = []

    @abc.abstractmethod
    async def prepare(self) -> dict[str, Any]:
        """Make the queue, stream or table; answer the destination's ``config``."""

    @abc.abstractmethod
    async def read(self) -> None:
        """Add what arrived since the last read to ``arrived``."""

    @abc.abstractmethod
    async def remove(self) -> None:
        """Delete what ``prepare`` made (also after a failed run)."""


class RabbitSink(Sink):
    """A durable queue, bound by the default exchange; ``mandatory`` publishes."""

    kind, destination_type = "rabbitmq", "rabbitMq"

    async def prepare(self) -> dict[str, Any]:
        import aiormq

        self.queue = f"hookline-chaos-{self.run_id}"
        self.connection = await aiormq.connect(address("rabbitmq"))
        self.channel = await self.connection.channel()
        await self.channel.queue_declare(self.queue, durable=True)
        return {"uri": address("rabbitmq"), "routingKey": self.queue, "mandatory": True}

    async def read(self) -> None:
        while True:
            message = await self.channel.basic_get(self.queue, no_ack=True)
            if not message.body:
                return
            properties = message.header.properties
            headers = properties.headers or {}
            webhook_id = headers.get("webhook-id", b"")
            self.arrived.append(Arrived(
                str(properties.message_id), _text(webhook_id), bytes(message.body),
            ))  # fmt: skip

    async def remove(self) -> None:
        if hasattr(self, "channel"):
            await self.channel.queue_delete(self.queue)
            await self.connection.close()


class RedisSink(Sink):
    """A stream; each entry's ``id`` field is the message id. Batches of 5."""

    kind, destination_type, batch_size = "redis", "redis", 5

    async def prepare(self) -> dict[str, Any]:
        from redis.asyncio import Redis

        self.stream = f"hookline-chaos-{self.run_id}"
        self.client = Redis.from_url(address("redis"))
        self.after = "-"
        return {"url": address("redis"), "stream": self.stream}

    async def read(self) -> None:
        while True:
            entries = await self.client.xrange(self.stream, min=self.after, count=500)
            if self.after != "-":
                entries = entries[1:]  # the range starts at the last one read
            if not entries:
                return
            for entry_id, fields in entries:
                self.arrived.append(Arrived(
                    _text(fields[b"id"]), _text(fields.get(b"webhook-id", b"")),
                    _raw(fields[b"payload"]),
                ))  # fmt: skip
                self.after = _text(entry_id)

    async def remove(self) -> None:
        if hasattr(self, "client"):
            await self.client.delete(self.stream)
            await self.client.aclose()


class NatsSink(Sink):
    """A JetStream stream capturing one subject, with a duplicate window longer than the
    run: a publish retried after a lost PubAck is stored once. Batches of 5."""

    kind, destination_type, exactly_once, batch_size = "nats", "nats", True, 5

    async def prepare(self) -> dict[str, Any]:
        import nats
        from nats.js.api import StreamConfig

        self.stream = f"HOOKLINE_CHAOS_{self.run_id}"
        subject = f"hookline.chaos.{self.run_id}"
        self.client = await nats.connect(address("nats"))
        self.jetstream = self.client.jetstream()
        await self.jetstream.add_stream(
            StreamConfig(name=self.stream, subjects=[subject], duplicate_window=900.0)
        )
        self.next_seq = 1
        return {"url": address("nats"), "subject": subject}

    async def read(self) -> None:
        info = await self.jetstream.stream_info(self.stream)
        last = info.state.last_seq
        while self.next_seq <= last:
            message = await self.jetstream.get_msg(self.stream, self.next_seq)
            headers = message.headers or {}
            self.arrived.append(Arrived(
                headers.get("Nats-Msg-Id", ""), headers.get("webhook-id", ""),
                bytes(message.data or b""),
            ))  # fmt: skip
            self.next_seq += 1

    async def remove(self) -> None:
        if hasattr(self, "client"):
            await self.jetstream.delete_stream(self.stream)
            await self.client.close()


class PostgresSink(Sink):
    """A table with the message id as its primary key (hookline inserts ``ON CONFLICT
    DO NOTHING``): a row per message, whatever the crashes."""

    kind, destination_type, exactly_once = "postgres", "postgres", True

    def __init__(self, run_id: str, url: str) -> None:
        super().__init__(run_id)
        self.url = url
        self.table = f"hookline_chaos_{self.run_id}"

    def _execute(self, statement: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(statement)
            return cursor.fetchall() if cursor.description else []

    async def prepare(self) -> dict[str, Any]:
        await asyncio.to_thread(
            self._execute,
            f"""CREATE TABLE {self.table} (
            message_id text PRIMARY KEY, event_type text NOT NULL, payload jsonb NOT NULL,
            "timestamp" timestamptz NOT NULL, headers jsonb NOT NULL)""",
        )
        return {"url": self.url, "tableName": self.table}

    async def read(self) -> None:
        rows = await asyncio.to_thread(
            self._execute,
            f"SELECT message_id, headers->>'webhook-id', payload::text FROM {self.table}",  # noqa: S608 - the run's own table name
        )
        self.arrived = [Arrived(str(r[0]), str(r[1] or ""), str(r[2]).encode()) for r in rows]

    async def remove(self) -> None:
        await asyncio.to_thread(self._execute, f"DROP TABLE IF EXISTS {self.table}")


def make(kind: str, run_id: str, postgres_url: str) -> Sink:
    """The sink of ``kind`` for run ``run_id``."""
    if kind == "postgres":
        return PostgresSink(run_id, postgres_url)
    made: dict[str, type[Sink]] = {"rabbitmq": RabbitSink, "redis": RedisSink, "nats": NatsSink}
    return made[kind](run_id)


def payload_of(body: bytes) -> Any:
    """A message body as JSON (None when it is not)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _raw(value: object) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]
