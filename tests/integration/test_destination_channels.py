"""The broker and database channels against real servers on 127.0.0.1.

Each test builds claimed deliveries by hand, sends them through the kind's channel, and
reads back from the real broker (a queue, a stream, a JetStream stream, a subscriber) or
the real database, checking the payloads, the headers and the signatures.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiomqtt
import aiormq
import nats
import pytest
import redis.asyncio as aioredis
from psycopg import sql
from standardwebhooks.webhooks import Webhook

from hookline import runtime
from hookline.delivery.destinations import (
    DestinationChannel,
    MqttChannel,
    NatsChannel,
    PostgresChannel,
    RabbitMqChannel,
    RedisStreamChannel,
)
from hookline.delivery.worker import DeliveryWorker, WorkerConfig
from hookline.domain import destinations, ids, signing
from hookline.domain.destinations import Destination
from hookline.domain.models import AttemptStatus, DeliveryStatus, Endpoint, Message
from hookline.domain.outcome import AttemptResult, ErrorClass
from hookline.domain.retry import RetryPolicy
from hookline.domain.ssrf import DestinationPolicy
from hookline.settings import load_settings
from hookline.storage.base import ClaimedDelivery
from hookline.storage.memory import MemoryQueue

import pg
from support import brokers

SECRET = signing.generate_secret()
LOOPBACK = DestinationPolicy.from_strings(["127.0.0.0/8"])


def claimed(destination: Destination, n: int = 1, **fields: object) -> ClaimedDelivery:
    """A claimed delivery of a fresh message to ``destination``."""
    made = ClaimedDelivery(
        id=ids.new_id(ids.DELIVERY, time.time()), msg_id=ids.new_id(ids.MESSAGE, time.time()),
        endpoint_id="ep_dest", app_id="app_1", attempts=0, manual=False,
        event_type="invoice.paid", payload=b'{"invoice": %d, "paid": true}' % n,
        url="", endpoint_disabled=False, headers={}, secret=SECRET, old_secrets=(),
        retry_schedule=None, failing_since=None, destination=destination,
    )  # fmt: skip
    return replace(made, **fields)  # type: ignore[arg-type]


def group_of(destination: Destination, size: int) -> list[ClaimedDelivery]:
    return [claimed(destination, n) for n in range(size)]


def verified(body: bytes, headers: dict[str, Any], delivery: ClaimedDelivery) -> None:
    """The message's Standard Webhooks signature verifies, under its message id."""
    assert headers["webhook-id"] == delivery.msg_id
    Webhook(SECRET).verify(body, {k: str(v) for k, v in headers.items()}, json_parse=False)


async def sent(channel: DestinationChannel[Any], group: Sequence[ClaimedDelivery]) -> AttemptResult:
    result, record = await channel.send(group, time.time())
    if result.succeeded:
        assert record is not None
        assert record.headers["webhook-id"] == group[0].msg_id
    return result


@pytest.fixture
async def rabbit() -> AsyncIterator[tuple[RabbitMqChannel, aiormq.abc.AbstractChannel, str]]:
    """The RabbitMQ channel, a channel of the test's own, and a fresh queue."""
    url = brokers.url("rabbitmq")
    brokers.require(url, "RabbitMQ")
    connection = await aiormq.connect(url)
    own = await connection.channel()
    queue = f"hookline-test-{uuid.uuid4().hex[:8]}"
    await own.queue_declare(queue, durable=True)
    channel = RabbitMqChannel(LOOPBACK, timeout=5.0)
    try:
        yield channel, own, queue
    finally:
        await channel.close()
        await own.queue_delete(queue)
        await connection.close()


async def test_rabbitmq_gets_signed_messages_one_and_a_batch(
    rabbit: tuple[RabbitMqChannel, aiormq.abc.AbstractChannel, str],
) -> None:
    """RabbitMQ confirms a delivery and a batch; each message carries id, type, time, signature."""
    channel, own, queue = rabbit
    config = {"uri": brokers.url("rabbitmq"), "routingKey": queue, "mandatory": True}
    target = Destination(destinations.RABBITMQ, config)
    one, batch = [claimed(target, 9)], group_of(target, 3)
    assert (await sent(channel, one)).response_body == "RabbitMQ confirmed 1 message"
    assert (await sent(channel, batch)).response_body == "RabbitMQ confirmed 3 messages"
    assert len(channel.connections) == 1  # one connection for both sends
    for delivery in one + batch:
        got = await own.basic_get(queue, no_ack=True)
        props = got.header.properties
        assert got.body == delivery.payload
        assert (props.message_id, props.message_type) == (delivery.msg_id, "invoice.paid")
        assert props.content_type == "application/json"
        assert props.delivery_mode == 2
        assert abs(props.timestamp.timestamp() - time.time()) < 60
        headers = {**(props.headers or {}), "webhook-id": props.message_id}
        verified(got.body, headers, delivery)


async def test_rabbitmq_mandatory_unroutable_is_a_failed_attempt(
    rabbit: tuple[RabbitMqChannel, aiormq.abc.AbstractChannel, str],
) -> None:
    """With mandatory, a message no queue takes comes back: a failed attempt, not a drop."""
    channel, _, _ = rabbit
    config = {"uri": brokers.url("rabbitmq"), "routingKey": "nobody-binds-this", "mandatory": True}
    target = Destination(destinations.RABBITMQ, config)
    result = await sent(channel, group_of(target, 2))
    assert result.error_class is ErrorClass.UNROUTABLE
    assert "returned 2 of 2 messages" in result.response_body
    assert "'nobody-binds-this'" in result.response_body
    # The channel stays usable: a routable publish on the same connection is confirmed.
    assert len(channel.connections) == 1


async def test_a_broker_that_is_down_is_a_failed_attempt_with_a_reason() -> None:
    """Nothing listening on the port: each kind's attempt fails as refused, saying where."""
    port = brokers.free_port()
    cases: list[tuple[DestinationChannel[Any], Destination]] = [
        (RabbitMqChannel(LOOPBACK), Destination(destinations.RABBITMQ, {
            "uri": f"amqp://guest:hunter2@127.0.0.1:{port}/", "routingKey": "q"})),
        (RedisStreamChannel(LOOPBACK), Destination(destinations.REDIS, {
            "url": f"redis://:hunter2@127.0.0.1:{port}/0", "stream": "s"})),
        (NatsChannel(LOOPBACK), Destination(destinations.NATS, {
            "url": f"nats://127.0.0.1:{port}", "subject": "s"})),
        (MqttChannel(LOOPBACK), Destination(destinations.MQTT, {
            "url": f"mqtt://127.0.0.1:{port}", "topic": "t"})),
    ]  # fmt: skip
    for channel, target in cases:
        result = await sent(channel, [claimed(target)])
        assert not result.succeeded, channel.name
        assert result.error_class in {ErrorClass.CONNECTION_REFUSED, ErrorClass.ERROR}, (
            channel.name,
            result,
        )
        assert result.response_body.startswith(channel.name), result.response_body
        assert "hunter2" not in result.response_body
        assert len(channel.connections) == 0
        await channel.close()


async def test_a_loopback_broker_is_refused_without_allowed_networks() -> None:
    """The SSRF policy applies to broker hosts: loopback is blocked unless allowed."""
    target = Destination(destinations.REDIS, {"url": "redis://localhost:6379/0", "stream": "s"})
    channel = RedisStreamChannel(DestinationPolicy())
    result = await sent(channel, [claimed(target)])
    assert result.error_class is ErrorClass.BLOCKED
    assert "loopback" in result.response_body


async def test_a_destination_without_its_routing_field_fails_saying_which() -> None:
    """A configuration without its routing key is a failed attempt naming the field."""
    channel = RabbitMqChannel(LOOPBACK)
    target = Destination(destinations.RABBITMQ, {"uri": "amqp://guest:guest@127.0.0.1:1/"})
    result = await sent(channel, [claimed(target)])
    assert not result.succeeded


# Redis Streams -----------------------------------------------------------------------


@pytest.fixture
async def redis_stream() -> AsyncIterator[tuple[RedisStreamChannel, aioredis.Redis, str]]:
    url = brokers.url("redis")
    brokers.require(url, "Redis")
    own = aioredis.Redis.from_url(url)
    stream = f"hookline-test-{uuid.uuid4().hex[:8]}"
    channel = RedisStreamChannel(LOOPBACK, timeout=5.0)
    try:
        yield channel, own, stream
    finally:
        await channel.close()
        await own.delete(stream)
        await own.aclose()


async def test_redis_stream_gets_signed_entries_one_and_a_batch(
    redis_stream: tuple[RedisStreamChannel, aioredis.Redis, str],
) -> None:
    """XADD of a delivery and of a batch (one pipeline): id, type, payload and signature."""
    channel, own, stream = redis_stream
    target = Destination(destinations.REDIS, {"url": brokers.url("redis"), "stream": stream,
                                              "maxLen": 1000})  # fmt: skip
    one, batch = [claimed(target, 7)], group_of(target, 4)
    assert (await sent(channel, one)).succeeded
    result = await sent(channel, batch)
    assert result.response_body == f"Redis added 4 entries to stream {stream!r}"
    assert len(channel.connections) == 1
    entries = await own.xrange(stream)
    assert len(entries) == 5
    for (_, fields), delivery in zip(entries, one + batch, strict=True):
        text = {k.decode(): v for k, v in fields.items()}
        assert text["id"].decode() == delivery.msg_id
        assert text["type"] == b"invoice.paid"
        assert text["payload"] == delivery.payload
        assert text["content-type"] == b"application/json"
        headers = {k: v.decode() for k, v in text.items() if k.startswith("webhook-")}
        verified(text["payload"], headers, delivery)


async def test_redis_refusal_is_a_failed_attempt(
    redis_stream: tuple[RedisStreamChannel, aioredis.Redis, str],
) -> None:
    """A key that is not a stream: Redis answers WRONGTYPE, the attempt says so."""
    channel, own, stream = redis_stream
    await own.set(stream, "not a stream")
    target = Destination(destinations.REDIS, {"url": brokers.url("redis"), "stream": stream})
    result = await sent(channel, [claimed(target)])
    assert result.error_class is ErrorClass.REJECTED
    assert "WRONGTYPE" in result.response_body


# NATS JetStream ----------------------------------------------------------------------


@pytest.fixture
async def jetstream() -> AsyncIterator[tuple[NatsChannel, Any, str, str]]:
    url = brokers.url("nats")
    brokers.require(url, "NATS")
    client = await nats.connect(url)
    js = client.jetstream()
    name = f"HOOKLINE_TEST_{uuid.uuid4().hex[:8]}"
    subject = f"hookline.test.{name.lower()}"
    await js.add_stream(name=name, subjects=[subject])
    channel = NatsChannel(LOOPBACK, timeout=5.0)
    try:
        yield channel, js, name, subject
    finally:
        await channel.close()
        await js.delete_stream(name)
        await client.close()


async def test_nats_jetstream_acknowledges_signed_messages_and_drops_a_duplicate(
    jetstream: tuple[NatsChannel, Any, str, str],
) -> None:
    """JetStream acks a delivery and a batch; a resend of the same message is stored once."""
    channel, js, name, subject = jetstream
    target = Destination(destinations.NATS, {"url": brokers.url("nats"), "subject": subject})
    one, batch = [claimed(target, 5)], group_of(target, 3)
    assert (await sent(channel, one)).succeeded
    result = await sent(channel, batch)
    assert result.response_body == f"NATS JetStream stream {name!r} acknowledged 3 messages"
    again = await sent(channel, one)  # a retry after a lost ack
    assert again.succeeded
    assert "(1 already stored)" in again.response_body
    info = await js.stream_info(name)
    assert info.state.messages == 4
    for seq, delivery in enumerate(one + batch, start=1):
        stored = await js.get_msg(name, seq)
        assert stored.data == delivery.payload
        assert stored.headers["Nats-Msg-Id"] == delivery.msg_id
        assert stored.headers["Nats-Event-Type"] == "invoice.paid"
        verified(stored.data, dict(stored.headers), delivery)


async def test_nats_subject_no_stream_captures_is_a_failed_attempt(
    jetstream: tuple[NatsChannel, Any, str, str],
) -> None:
    """A subject outside every stream gets no PubAck: the attempt fails, naming the subject."""
    channel, *_ = jetstream
    target = Destination(destinations.NATS, {"url": brokers.url("nats"),
                                             "subject": "hookline.nobody.captures"})  # fmt: skip
    result = await sent(channel, [claimed(target)])
    assert result.error_class is ErrorClass.REJECTED
    assert "no JetStream stream captures subject 'hookline.nobody.captures'" in (
        result.response_body
    )


# MQTT --------------------------------------------------------------------------------


async def test_mqtt_subscriber_gets_signed_qos1_messages_one_and_a_batch() -> None:
    """QoS 1 publishes, acknowledged; a subscriber gets payloads and signed user properties."""
    url = brokers.url("mqtt")
    brokers.require(url, "Mosquitto")
    topic = f"hookline/test/{uuid.uuid4().hex[:8]}"
    target = Destination(destinations.MQTT, {"url": url, "topic": topic})
    channel = MqttChannel(LOOPBACK, timeout=5.0)
    one, batch = [claimed(target, 3)], group_of(target, 3)
    received: list[aiomqtt.Message] = []
    async with aiomqtt.Client("127.0.0.1", 1883, protocol=aiomqtt.ProtocolVersion.V5) as sub:
        await sub.subscribe(topic, qos=1)
        try:
            assert (await sent(channel, one)).succeeded
            result = await sent(channel, batch)
            assert result.response_body == f"MQTT broker acknowledged 3 messages on {topic!r}"
            assert len(channel.connections) == 1
            async with asyncio.timeout(5):
                async for message in sub.messages:
                    received.append(message)
                    if len(received) == 4:
                        break
        finally:
            await channel.close()
    by_id = {}
    for message in received:
        assert message.qos == 1
        properties = dict(message.properties.UserProperty)  # type: ignore[union-attr]
        assert message.properties.ContentType == "application/json"  # type: ignore[union-attr]
        assert properties["event-type"] == "invoice.paid"
        by_id[properties["webhook-id"]] = (message.payload, properties)
    for delivery in one + batch:
        payload, properties = by_id[delivery.msg_id]
        assert payload == delivery.payload
        verified(payload, properties, delivery)  # type: ignore[arg-type]


# PostgreSQL --------------------------------------------------------------------------

TABLE = """CREATE TABLE {} (
    message_id text PRIMARY KEY, event_type text NOT NULL, payload jsonb NOT NULL,
    "timestamp" timestamptz NOT NULL, headers jsonb NOT NULL)"""


@pytest.fixture
def pg_table() -> Iterator[tuple[str, str]]:
    """The test server's database URL and a fresh destination table in it (its name has
    a quote and a space: it must be quoted as an identifier to work at all)."""
    url = pg.server_url()
    pg.Server(url).require_reachable()
    table = f'hookline "dest" {uuid.uuid4().hex[:8]}'
    with pg.connect(url) as conn:
        conn.execute(sql.SQL(TABLE).format(sql.Identifier(table)))
    try:
        yield url, table
    finally:
        with pg.connect(url) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def rows(url: str, table: str) -> list[tuple[Any, ...]]:
    with pg.connect(url) as conn:
        statement = sql.SQL(
            'SELECT message_id, event_type, payload, "timestamp", headers FROM {} '
            "ORDER BY message_id"
        ).format(sql.Identifier(table))
        return conn.execute(statement).fetchall()


async def test_postgres_inserts_signed_rows_once_per_message(pg_table: tuple[str, str]) -> None:
    """A delivery and a batch become rows; sending the batch again inserts nothing twice."""
    url, table = pg_table
    target = Destination(destinations.POSTGRES, {"url": url, "tableName": table})
    channel = PostgresChannel(LOOPBACK, timeout=5.0)
    try:
        one, batch = [claimed(target, 1)], group_of(target, 3)
        assert (await sent(channel, one)).response_body == f"PostgreSQL inserted 1 row into {table}"
        assert (await sent(channel, batch)).succeeded
        again = await sent(channel, [*batch, claimed(target, 8)])  # a retry after a crash
        assert again.response_body == f"PostgreSQL inserted 1 row into {table} (3 already there)"
        assert len(channel.connections) == 1
    finally:
        await channel.close()
    found = {row[0]: row for row in rows(url, table)}
    assert len(found) == 5
    for delivery in one + batch:
        _, event_type, payload, at, headers = found[delivery.msg_id]
        assert event_type == "invoice.paid"
        assert payload == json.loads(delivery.payload)
        assert abs(at.timestamp() - time.time()) < 60
        assert headers["content-type"] == "application/json"
        verified(delivery.payload, headers, delivery)


async def test_postgres_missing_table_is_a_failed_attempt_saying_so() -> None:
    """A table that does not exist: the attempt fails naming it; hookline does not create it."""
    url = pg.server_url()
    pg.Server(url).require_reachable()
    target = Destination(destinations.POSTGRES, {"url": url, "tableName": "no_such_table_here"})
    channel = PostgresChannel(LOOPBACK, timeout=5.0)
    try:
        result = await sent(channel, [claimed(target)])
        assert result.error_class is ErrorClass.REJECTED
        assert "table 'no_such_table_here' does not exist in database" in result.response_body
        # The connection survives the refusal and is reused by the next attempt.
        assert len(channel.connections) == 1
    finally:
        await channel.close()


async def test_postgres_wrong_port_and_password_are_failed_attempts() -> None:
    """A database that is down or refuses the password: failed attempts, password never shown."""
    url = pg.server_url()
    pg.Server(url).require_reachable()
    port = brokers.free_port()
    target = Destination(destinations.POSTGRES, {
        "url": f"postgresql://postgres@127.0.0.1:{port}/test", "password": "hunter2",
        "tableName": "t"})  # fmt: skip
    channel = PostgresChannel(LOOPBACK, timeout=5.0)
    result = await sent(channel, [claimed(target)])
    await channel.close()
    assert result.error_class is ErrorClass.CONNECTION_REFUSED, result
    assert result.response_body.startswith("PostgreSQL: ")
    assert "hunter2" not in result.response_body


# the worker, over a broker that goes down and comes back -----------------------------


async def test_worker_retries_while_the_broker_is_down_then_drains_the_backlog() -> None:
    """Redis unreachable: attempts fail and retry, nothing lost; back up, every one arrives."""
    url = brokers.url("redis")
    brokers.require(url, "Redis")
    stream = f"hookline-test-{uuid.uuid4().hex[:8]}"
    queue = MemoryQueue()
    config = WorkerConfig(
        concurrency=8, endpoint_concurrency=4, slow_after=5.0, claim_batch=8, lease_seconds=30.0,
        poll_interval=0.05, shutdown_grace=0.5,
        retry_policy=RetryPolicy((0.1,) * 30, jitter=0.0),
    )  # fmt: skip
    channel = RedisStreamChannel(LOOPBACK, connect_timeout=1.0, timeout=2.0)
    own = aioredis.Redis.from_url(url)
    async with brokers.relay("127.0.0.1", 6379) as relay:
        target = Destination(destinations.REDIS, {
            "url": f"redis://127.0.0.1:{relay.port}/0", "stream": stream})  # fmt: skip
        endpoint = Endpoint(id="ep_redis", app_id="app_1", url="", secret=SECRET)
        sent_ids = []
        for n in range(6):
            message = Message(
                id=ids.new_id(ids.MESSAGE, time.time()), app_id="app_1",
                event_type="invoice.paid", payload=b'{"n": %d}' % n, created_at=time.time(),
            )  # fmt: skip
            delivery_id = queue.add(message, endpoint)
            queued = queue.deliveries[delivery_id]
            queued.claimed = replace(queued.claimed, destination=target)
            sent_ids.append(message.id)
        worker = DeliveryWorker(
            queue, NoHttp(), config, name="w1", destinations={destinations.REDIS: channel}
        )
        task = asyncio.create_task(worker.run())
        try:
            await until(lambda: len(queue.attempts) >= 12)  # down: every one failed twice
            assert {a.status for a in queue.attempts} == {AttemptStatus.FAIL}
            assert {a.error_class for a in queue.attempts} == {"connection_refused"}
            assert await own.xlen(stream) == 0
            await relay.up()
            await until(
                lambda: sum(1 for a in queue.attempts if a.status is AttemptStatus.SUCCESS) == 6
            )
        finally:
            worker.stop()
            await task
            await channel.close()
    entries = await own.xrange(stream)
    await own.delete(stream)
    await own.aclose()
    assert sorted(fields[b"id"].decode() for _, fields in entries) == sorted(sent_ids)
    assert {d.status for d in queue.deliveries.values()} == {DeliveryStatus.SUCCESS}


class NoHttp:
    """The worker's HTTP transport in a test that sends none: any use is a failure."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        raise AssertionError(f"no HTTP expected, got {url}")

    async def close(self) -> None:
        pass


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def acl_broker(port: int) -> tuple[str, Path]:
    """The mosquitto binary and a directory with its configuration: a listener on
    ``port`` whose ACL lets anyone write under ``allowed/`` only."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(mosquitto):
        brokers.missing("no mosquitto binary to run a broker with an ACL")
    # Started as root, mosquitto reads its files as user mosquitto: a directory it can read.
    directory = Path(tempfile.mkdtemp(prefix="hookline-mosquitto-"))
    directory.chmod(0o755)
    (directory / "acl").write_text("topic write allowed/#\n")
    (directory / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nacl_file {directory / 'acl'}\n"
        "persistence false\n"
    )
    return mosquitto, directory


async def test_mqtt_puback_refusing_the_topic_is_a_failed_attempt() -> None:
    """A broker whose ACL refuses the topic answers PUBACK "not authorized": the attempt fails."""
    port = brokers.free_port()
    mosquitto, tmp_path = acl_broker(port)
    process = subprocess.Popen(  # noqa: ASYNC220 - a broker of the test's own, stopped below
        [mosquitto, "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    channel = MqttChannel(LOOPBACK, timeout=5.0)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start"
                await asyncio.sleep(0.05)
        url = f"mqtt://127.0.0.1:{port}"
        allowed = Destination(destinations.MQTT, {"url": url, "topic": "allowed/invoices"})
        assert (await sent(channel, group_of(allowed, 2))).succeeded
        refused = Destination(destinations.MQTT, {"url": url, "topic": "forbidden/invoices"})
        result = await sent(channel, group_of(refused, 2))
        assert result.error_class is ErrorClass.REJECTED
        assert "refused 2 of 2 messages on 'forbidden/invoices'" in result.response_body
        assert "Not authorized" in result.response_body
    finally:
        await channel.close()
        process.terminate()
        process.wait(timeout=5)
        shutil.rmtree(tmp_path)


def test_the_worker_process_registers_a_channel_for_every_broker_kind() -> None:
    """runtime's destination channels cover every broker and database kind, by kind."""
    made = runtime.make_destinations(load_settings({}))
    worker = DeliveryWorker(MemoryQueue(), NoHttp(), WorkerConfig(), destinations=made.by_kind)
    for kind, channel_class in [
        (destinations.RABBITMQ, RabbitMqChannel), (destinations.POSTGRES, PostgresChannel),
        (destinations.REDIS, RedisStreamChannel), (destinations.NATS, NatsChannel),
        (destinations.MQTT, MqttChannel),
    ]:  # fmt: skip
        delivery = claimed(Destination(kind, {}))
        assert isinstance(worker.channels.for_delivery(delivery), channel_class)
        assert worker.channels.batches(delivery)
