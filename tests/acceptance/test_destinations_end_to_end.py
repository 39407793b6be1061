"""Destinations through a real ``hookline serve``, from storage to the broker: a GitHub
event received at ``/in/<token>`` reaches a RabbitMQ queue byte for byte, and messages
published through the svix SDK land once each in a PostgreSQL table."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiormq
import httpx
import psycopg
import pytest
from svix.api import ApplicationIn, DestinationIn, MessageIn, Svix, SvixOptions

from pg import server_url
from support import brokers
from support.metrics import scrape, value
from support.polling import wait_until
from support.server import ADMIN_TOKEN, HooklineProcess

GITHUB_SECRET = "github-webhook-secret"
# A push as GitHub sends it: spacing and key order kept, so any re-encoding would show.
PUSH = b'{"ref":"refs/heads/main", "after":"9f2c", "repository":{"full_name":"acme/shop"}}'


@pytest.fixture
async def queue() -> AsyncIterator[tuple[aiormq.abc.AbstractChannel, str]]:
    """A fresh durable queue on the real RabbitMQ, and a channel to read it."""
    url = brokers.url("rabbitmq")
    brokers.require(url, "RabbitMQ")
    connection = await aiormq.connect(url)
    channel = await connection.channel()
    name = f"hookline-e2e-{uuid.uuid4().hex[:8]}"
    await channel.queue_declare(name, durable=True)
    try:
        yield channel, name
    finally:
        await channel.queue_delete(name)
        await connection.close()


def github_headers(body: bytes, delivery: str) -> dict[str, str]:
    """What GitHub signs a delivery with (HMAC-SHA256 of the body, hex, ``sha256=``)."""
    digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "x-hub-signature-256": f"sha256={digest}", "x-github-event": "push",
        "x-github-delivery": delivery, "content-type": "application/json",
    }  # fmt: skip


async def test_a_github_event_reaches_rabbitmq_byte_for_byte(
    server: HooklineProcess, queue: tuple[aiormq.abc.AbstractChannel, str]
) -> None:
    channel, name = queue
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Shop"}).json()
        made = api.post(f"/api/v1/app/{app['id']}/destination", json={
            "type": "rabbitMq",
            "config": {"uri": brokers.url("rabbitmq"), "routingKey": name, "mandatory": True},
        })  # fmt: skip
        assert made.status_code == 201, made.text
        source = api.post(f"/api/v1/app/{app['id']}/source", json={
            "name": "GitHub", "verifier": {"type": "github", "secrets": [GITHUB_SECRET]},
        }).json()  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as github:
        taken = await github.post(
            source["ingestUrl"], content=PUSH, headers=github_headers(PUSH, "d-1")
        )
        assert taken.status_code == 200, taken.text
        again = await github.post(
            source["ingestUrl"], content=PUSH, headers=github_headers(PUSH, "d-1")
        )
        assert again.json()["duplicate"] is True
        forged = await github.post(
            source["ingestUrl"], content=PUSH.replace(b"main", b"evil"),
            headers=github_headers(PUSH, "d-2"),
        )  # fmt: skip
        assert forged.status_code == 401

    got: list[Any] = []

    async def arrived() -> bool:
        message = await channel.basic_get(name, no_ack=True)
        if message.body:
            got.append(message)
        return bool(got)

    for _ in range(100):
        if await arrived():
            break
        await _pause()
    assert got, "the event never reached RabbitMQ"
    assert got[0].body == PUSH
    assert got[0].header.properties.message_id == taken.json()["id"]
    await _pause(1.0)
    assert (await channel.basic_get(name, no_ack=True)).body in (b"", None)  # once only
    with server.client() as api:
        attempts = api.get(f"/api/v1/app/{app['id']}/attempt/msg/{taken.json()['id']}").json()
    assert [a["status"] for a in attempts["data"]] == [0]


async def _pause(seconds: float = 0.1) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def test_published_messages_land_once_each_in_a_postgresql_table(
    server: HooklineProcess,
) -> None:
    url = server_url()
    brokers.require(url, "PostgreSQL")
    table = f"hookline_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"""CREATE TABLE {table} (
            message_id text PRIMARY KEY, event_type text NOT NULL, payload jsonb NOT NULL,
            "timestamp" timestamptz NOT NULL, headers jsonb NOT NULL)""")
        try:
            sdk = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
            request_client = sdk._httpx_client
            app = sdk.application.create(ApplicationIn(name="Ledger"))
            sdk.destination.create(app.id, DestinationIn(
                type="postgres", config={"url": url, "tableName": table},
            ))  # fmt: skip
            ids = [
                sdk.message.create(
                    app.id, MessageIn(event_type="invoice.paid", payload={"n": n})
                ).id
                for n in range(5)
            ]

            def rows() -> list[tuple[Any, ...]]:
                return db.execute(f"SELECT message_id, event_type, payload FROM {table}").fetchall()  # noqa: S608

            wait_until(lambda: len(rows()) == 5, timeout=20)
            found = {r[0]: r for r in rows()}
            assert sorted(found) == sorted(ids)
            assert {r[1] for r in found.values()} == {"invoice.paid"}
            assert sorted(json.dumps(r[2]) for r in found.values()) == sorted(
                json.dumps({"n": n}) for n in range(5)
            )
            request_client.close()
        finally:
            db.execute(f"DROP TABLE {table}")


def test_an_unroutable_rabbitmq_destination_shows_why_and_when_it_retries(
    server: HooklineProcess,
) -> None:
    """With ``mandatory`` and no queue bound to the routing key, RabbitMQ returns the
    message: the destination's ``failureReason`` says so and ``nextRetryAt`` is its
    retry, in get and list alike; a healthy destination shows neither. The metrics count
    the attempt under ``kind="rabbitMq"``."""
    url = brokers.url("rabbitmq")
    brokers.require(url, "RabbitMQ")
    sdk = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
    try:
        app = sdk.application.create(ApplicationIn(name="Unroutable"))
        nowhere = f"hookline-nowhere-{uuid.uuid4().hex[:8]}"
        made = sdk.destination.create(app.id, DestinationIn(
            type="rabbitMq", config={"uri": url, "routingKey": nowhere, "mandatory": True},
        ))  # fmt: skip
        assert made.failure_reason is None
        assert made.next_retry_at is None
        published = time.time()
        sdk.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"n": 1}))
        wait_until(lambda: sdk.destination.get(app.id, made.id).failure_reason is not None,
                   timeout=20)  # fmt: skip
        shown = sdk.destination.get(app.id, made.id)
        assert shown.failure_reason is not None
        assert "NO_ROUTE" in shown.failure_reason or "unroutable" in shown.failure_reason
        assert shown.next_retry_at is not None
        assert shown.next_retry_at.timestamp() > published
        assert str(shown.status) == "retrying"
        listed = sdk.destination.list(app.id)
        assert [(d.failure_reason, d.next_retry_at) for d in listed.data] == [
            (shown.failure_reason, shown.next_retry_at)
        ]
        # The attempt is counted under its destination kind, not its endpoint.
        samples = scrape(server)
        retried = value(samples, "hookline_attempts_total", outcome="retry",
                        status_class="none", kind="rabbitMq")  # fmt: skip
        assert retried >= 1
        assert value(samples, "hookline_attempt_duration_seconds_count", kind="rabbitMq") >= 1
        assert value(samples, "hookline_attempt_duration_seconds_count", kind="http") == 0
    finally:
        sdk._httpx_client.close()
