"""``python -m bench.destinations``: deliveries per second to each broker and to the
PostgreSQL destination, each a ratio to a bare loop of the same library in the same run.

- **hookline**: ``count`` claimed deliveries of one batching destination through its
  channel (``delivery/destinations/``), a batch per ``send`` as the worker hands them:
  shaping, a Standard Webhooks signature per message, one publish of the batch, the
  broker's confirmations, the attempt's result. (Claims and records are the worker's
  and storage's, measured by ``python -m bench``; the in-memory queue is a test
  double whose claims scan every row, so it would measure itself.)
- **ceiling**: the same library publishing the same number of messages of the same
  size, in publishes of the same batch size with the same confirmations (publisher
  confirms, pipelined ``XADD`` replies, PubAcks, PUBACKs, one committed INSERT), with
  as many batches in flight as the worker's per-endpoint concurrency: what the broker
  and the library allow, with none of hookline's work.

The two alternate ``rounds`` times so that the shared machine's noise hits both; the
best of each is compared. All traffic goes to the brokers on 127.0.0.1 (the URLs of
``tests/support/brokers.py``), bounded in count. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import aiormq
import nats
import psycopg
import redis.asyncio as aioredis
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pamqp.commands import Basic
from psycopg import sql
from psycopg.types.json import Jsonb

from hookline.delivery.destinations import (
    DestinationChannel,
    MqttChannel,
    NatsChannel,
    PostgresChannel,
    RabbitMqChannel,
    RedisStreamChannel,
)
from hookline.domain import destinations, ids, signing
from hookline.domain.controls import Batching, Controls
from hookline.domain.destinations import Destination
from hookline.domain.ssrf import DestinationPolicy
from hookline.storage.base import ClaimedDelivery

from bench.report import Row, machine, save, table

BODY = b'{"type":"invoice.paid","data":{"id":"inv_0001","amount":1200,"currency":"EUR"}}'
#: Header values of the ceiling's messages, as long as hookline's signed ones.
HEADERS = {
    "webhook-id": "msg_" + "x" * 27,
    "webhook-timestamp": "1700000000",
    "webhook-signature": "v1," + "s" * 44,
    "content-type": "application/json",
}
URLS = {
    "rabbitMq": os.environ.get("HOOKLINE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "redis": os.environ.get("HOOKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "nats": os.environ.get("HOOKLINE_TEST_NATS_URL", "nats://127.0.0.1:4222"),
    "mqtt": os.environ.get("HOOKLINE_TEST_MQTT_URL", "mqtt://127.0.0.1:1883"),
    "postgres": os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
}
GOAL = 0.7


async def in_flight(
    count: int, batch: int, concurrency: int, publish: Callable[[int], Any]
) -> None:
    """``count`` messages in publishes of ``batch``, ``concurrency`` publishes at once."""
    sizes = [min(batch, count - start) for start in range(0, count, batch)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for size in sizes:
        queue.put_nowait(size)

    async def lane() -> None:
        while not queue.empty():
            await publish(queue.get_nowait())

    await asyncio.gather(*(lane() for _ in range(concurrency)))


# the ceilings: the bare library ------------------------------------------------------


async def bare_rabbitmq(target: dict[str, Any], count: int, batch: int, lanes: int) -> None:
    connection = await aiormq.connect(target["uri"])
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)

    async def publish(size: int) -> None:
        await asyncio.gather(*(
            channel.basic_publish(BODY, routing_key=target["routingKey"], mandatory=True,
                properties=Basic.Properties(message_id=uuid.uuid4().hex, message_type="t",
                    timestamp=datetime.now(UTC), content_type="application/json",
                    delivery_mode=2, headers=dict(HEADERS)))
            for _ in range(size)
        ))  # fmt: skip

    try:
        await in_flight(count, batch, lanes, publish)
    finally:
        await connection.close()


async def bare_redis(target: dict[str, Any], count: int, batch: int, lanes: int) -> None:
    client = aioredis.Redis.from_url(target["url"])

    async def publish(size: int) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(size):
                fields = {**HEADERS, "id": uuid.uuid4().hex, "type": "t", "payload": BODY}
                pipe.xadd(target["stream"], fields)  # type: ignore[arg-type]
            await pipe.execute()

    try:
        await in_flight(count, batch, lanes, publish)
    finally:
        await client.aclose()


async def bare_nats(target: dict[str, Any], count: int, batch: int, lanes: int) -> None:
    client = await nats.connect(target["url"])
    js = client.jetstream()

    async def publish(size: int) -> None:
        pending = [
            await js.publish_async(target["subject"], BODY,
                                   headers={**HEADERS, "Nats-Msg-Id": uuid.uuid4().hex})
            for _ in range(size)
        ]  # fmt: skip
        await asyncio.gather(*pending)

    try:
        await in_flight(count, batch, lanes, publish)
    finally:
        await client.close()


async def bare_mqtt(target: dict[str, Any], count: int, batch: int, lanes: int) -> None:
    async with aiomqtt.Client("127.0.0.1", 1883, protocol=aiomqtt.ProtocolVersion.V5,
                              max_inflight_messages=1000) as client:  # fmt: skip
        client.pending_calls_threshold = 1000

        async def publish(size: int) -> None:
            def properties() -> Properties:
                made = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                made.ContentType = "application/json"
                made.UserProperty = list(HEADERS.items())
                return made

            await asyncio.gather(*(
                client.publish(target["topic"], BODY, qos=1, properties=properties())
                for _ in range(size)
            ))  # fmt: skip

        await in_flight(count, batch, lanes, publish)


async def bare_postgres(target: dict[str, Any], count: int, batch: int, lanes: int) -> None:
    statement = sql.SQL(
        'INSERT INTO {} (message_id, event_type, payload, "timestamp", headers) SELECT * FROM '
        "unnest(%s::text[], %s::text[], %s::jsonb[], %s::timestamptz[], %s::jsonb[]) "
        "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
    ).format(sql.Identifier(target["tableName"]))
    connections = [await psycopg.AsyncConnection.connect(target["url"]) for _ in range(lanes)]
    free: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)

    async def publish(size: int) -> None:
        connection = await free.get()
        now = datetime.now(UTC)
        rows = [[uuid.uuid4().hex for _ in range(size)], ["t"] * size,
                [Jsonb({"type": "invoice.paid"}) for _ in range(size)], [now] * size,
                [Jsonb(HEADERS) for _ in range(size)]]  # fmt: skip
        async with connection.cursor() as cursor:
            await cursor.execute(statement, rows)
            await cursor.fetchall()
        await connection.commit()
        free.put_nowait(connection)

    try:
        await in_flight(count, batch, lanes, publish)
    finally:
        for connection in connections:
            await connection.close()


# hookline: the channel ---------------------------------------------------------------


async def through_channel(
    channel: DestinationChannel[Any], target: Destination, count: int, batch: int, lanes: int
) -> float:
    """Seconds to send ``count`` claimed deliveries through ``channel``, in groups of
    ``batch`` (a batching endpoint's request), ``lanes`` at once: shaping, a signature
    per message, the publish, the confirmations and the attempt's result."""
    secret = signing.generate_secret()
    controls = Controls(batching=Batching(max_size=batch, max_wait=0.0))

    def claimed() -> ClaimedDelivery:
        now = time.time()
        return ClaimedDelivery(
            id=ids.new_id(ids.DELIVERY, now), msg_id=ids.new_id(ids.MESSAGE, now),
            endpoint_id="ep_bench", app_id="app_bench", attempts=0, manual=False,
            event_type="invoice.paid", payload=BODY, url="", endpoint_disabled=False,
            headers={}, secret=secret, old_secrets=(), retry_schedule=None,
            failing_since=None, controls=controls, destination=target,
        )  # fmt: skip

    # Made beforehand, as the claims made them: building them is not the channel's work.
    ready = [claimed() for _ in range(count)]

    async def publish(size: int) -> None:
        group = [ready.pop() for _ in range(size)]
        result, _ = await channel.send(group, time.time())
        if not result.succeeded:
            raise RuntimeError(f"a delivery failed: {result.response_body}")

    started = time.perf_counter()
    await in_flight(count, batch, lanes, publish)
    return time.perf_counter() - started


# the run -----------------------------------------------------------------------------


async def _setup(kind: str) -> tuple[dict[str, Any], Callable[[], Awaitable[None]]]:
    """The destination's configuration for ``kind`` and how to clean up after it."""
    name = f"hookline_bench_{uuid.uuid4().hex[:8]}"
    url = URLS[kind]
    if kind == "rabbitMq":
        connection = await aiormq.connect(url)
        channel = await connection.channel()
        await channel.queue_declare(name, durable=True)

        async def drop_queue() -> None:
            await channel.queue_delete(name)
            await connection.close()

        return {"uri": url, "routingKey": name, "mandatory": True}, drop_queue
    if kind == "redis":

        async def drop_stream() -> None:
            client = aioredis.Redis.from_url(url)
            await client.delete(name)
            await client.aclose()

        return {"url": url, "stream": name}, drop_stream
    if kind == "nats":
        client = await nats.connect(url)
        js = client.jetstream()
        await js.add_stream(name=name, subjects=[f"bench.{name}"])

        async def drop_stream_nats() -> None:
            await js.delete_stream(name)
            await client.close()

        return {"url": url, "subject": f"bench.{name}"}, drop_stream_nats
    if kind == "mqtt":
        return {"url": url, "topic": f"bench/{name}"}, _nothing
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL(
            "CREATE TABLE {} (message_id text PRIMARY KEY, event_type text NOT NULL, "
            "payload jsonb NOT NULL, \"timestamp\" timestamptz NOT NULL, headers jsonb NOT NULL)"
        ).format(sql.Identifier(name)))  # fmt: skip

    async def drop_table() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))

    return {"url": url, "tableName": name}, drop_table


async def _nothing() -> None:
    pass


CHANNELS: dict[str, tuple[type[DestinationChannel[Any]], Callable[..., Awaitable[None]]]] = {
    destinations.RABBITMQ: (RabbitMqChannel, bare_rabbitmq),
    destinations.REDIS: (RedisStreamChannel, bare_redis),
    destinations.NATS: (NatsChannel, bare_nats),
    destinations.MQTT: (MqttChannel, bare_mqtt),
    destinations.POSTGRES: (PostgresChannel, bare_postgres),
}


async def measure(kind: str, count: int, batch: int, lanes: int, rounds: int) -> Row:
    """The kind's row: the best of ``rounds`` runs of each, alternated."""
    config, cleanup = await _setup(kind)
    channel_class, bare = CHANNELS[kind]
    policy = DestinationPolicy.from_strings(["127.0.0.0/8"])
    best = {"hookline": 0.0, "ceiling": 0.0}
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            await bare(config, count, batch, lanes)
            best["ceiling"] = max(best["ceiling"], count / (time.perf_counter() - started))
            channel = channel_class(policy)
            took = await through_channel(channel, Destination(kind, config), count, batch, lanes)
            best["hookline"] = max(best["hookline"], count / took)
            await channel.close()
    finally:
        await cleanup()
    ratio = best["hookline"] / best["ceiling"]
    return Row(
        f"{kind}: deliveries/s, batches of {batch}, {lanes} in flight",
        f"{best['hookline']:,.0f}", f"{best['ceiling']:,.0f}", f"{ratio:.2f}", f">= {GOAL}",
        {"kind": kind, "count": count, "batch": batch, "lanes": lanes, **best},
    )  # fmt: skip


async def main(args: argparse.Namespace) -> list[Row]:
    rows = []
    for kind in args.kinds:
        rows.append(await measure(kind, args.count, args.batch, args.lanes, args.rounds))
        print(table(rows[-1:]), flush=True)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.destinations", description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=3000, help="messages per run")
    parser.add_argument("--batch", type=int, default=50, help="messages per publish")
    parser.add_argument("--lanes", type=int, default=4, help="publishes in flight at once")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each (best kept)")
    parser.add_argument("--kinds", default=",".join(CHANNELS), help="comma-separated kinds")
    args = parser.parse_args(argv)
    args.kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = set(args.kinds) - set(CHANNELS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    if not (1 <= args.count <= 100_000 and 1 <= args.batch <= 1000 and 1 <= args.lanes <= 64
            and 1 <= args.rounds <= 5):  # fmt: skip
        parser.error("count 1..100000, batch 1..1000, lanes 1..64, rounds 1..5")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    found = asyncio.run(main(arguments))
    print()
    print(table(found))
    saved = save({"figure": "destinations", "machine": machine(),
                  "rows": [row.data for row in found]})  # fmt: skip
    print(f"saved {saved}")
