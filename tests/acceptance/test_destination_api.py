"""The official svix SDK (2.9.1) drives destinations and the message poller on a real
``hookline serve``: destination CRUD with secrets never shown, pollers that read every
message once (with and without a consumer cursor, seek, filters), and bad
configurations refused with a 422 that names the field, storing nothing.

Delivery to the brokers themselves is tested with the channels (tests of delivery/).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    DestinationIn,
    DestinationPatch,
    DestinationTransformIn,
    EndpointSecretRotateIn,
    MessageIn,
    PollingEndpointConsumerSeekIn,
    Svix,
    SvixOptions,
)
from svix.api.destination import DestinationListOptions
from svix.api.message_poller import MessagePollerConsumerPollOptions, MessagePollerPollOptions
from svix.exceptions import HttpError
from svix.webhooks import Webhook

from support.polling import wait_until
from support.receiver import Receiver
from support.server import ADMIN_TOKEN, HooklineProcess

RABBIT_URI = "amqp://guest:s3cr3t-pw@127.0.0.1:5672/%2F"


@pytest.fixture
def svix(server: HooklineProcess) -> Iterator[Svix]:
    """The official SDK pointed at the server under test, with its admin token."""
    sdk = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
    yield sdk
    sdk._httpx_client.close()


def test_destinations_round_trip_through_the_sdk(svix: Svix, server: HooklineProcess) -> None:
    """Create, get, list, patch, upsert, rotate, transformation and delete; passwords are
    masked in every answer and in the audit trail, and destinations are not endpoints."""
    app = svix.application.create(ApplicationIn(name="Acme"))
    rabbit = svix.destination.create(app.id, DestinationIn(
        type="rabbitMq", uid="bus", config={"uri": RABBIT_URI, "routingKey": "invoices"},
        event_types=None, metadata={"team": "billing"},
    ))  # fmt: skip
    assert rabbit.type == "rabbitMq"
    assert rabbit.config.uri == "amqp://guest:********@127.0.0.1:5672/%2F"
    assert rabbit.config.routing_key == "invoices"
    assert rabbit.config.mandatory is False
    assert str(rabbit.status) == "enabled"
    pg = svix.destination.create(app.id, DestinationIn(
        type="postgres",
        config={"url": "postgres://hook@127.0.0.1:5432/test", "password": "pg-pass-9",
                "tableName": "public.events"},
    ))  # fmt: skip
    assert pg.config.table_name == "public.events"
    assert svix.destination.get(app.id, "bus").id == rabbit.id
    listed = svix.destination.list(app.id, DestinationListOptions(limit=10))
    assert {d.id for d in listed.data} == {rabbit.id, pg.id}
    assert listed.done

    patched = svix.destination.patch(app.id, rabbit.id, DestinationPatch(
        type="rabbitMq", config={"routingKey": "payments", "mandatory": True},
        batch_size=10, max_wait_secs=2, channels=["eu"],
    ))  # fmt: skip
    assert patched.config.routing_key == "payments"
    assert patched.config.mandatory is True
    assert patched.config.uri == rabbit.config.uri  # the stored password was kept
    assert (patched.batch_size, patched.max_wait_secs, patched.channels) == (10, 2, ["eu"])
    upserted = svix.destination.upsert(app.id, "poller-1", DestinationIn(
        type="pollingEndpoint", config={},
    ))  # fmt: skip
    assert upserted.uid == "poller-1"
    assert upserted.current_iterator.startswith("msg_")
    rotated = svix.destination.rotate_secret(app.id, rabbit.id, EndpointSecretRotateIn())
    assert rotated.key.startswith("whsec_")
    svix.destination.transformation.patch(
        app.id, rabbit.id, DestinationTransformIn(code='{"body": "{id: data.id}"}')
    )
    transformation = svix.destination.transformation.get(app.id, rabbit.id)
    assert transformation.enabled
    assert transformation.code == '{"body":"{id: data.id}"}'

    with server.client() as api:
        # Destinations are not listed as endpoints, and nothing shows a password.
        assert api.get(f"/api/v1/app/{app.id}/endpoint").json()["data"] == []
        everything = [
            api.get(f"/api/v1/app/{app.id}/destination").text,
            api.get(f"/api/v1/app/{app.id}/audit").text,
            api.get(f"/api/v1/app/{app.id}/endpoint/{rabbit.id}").text,
        ]
        assert not [text for text in everything if "s3cr3t-pw" in text or "pg-pass-9" in text]
        # A destination is changed at /destination; a poller is never delivered to.
        put = api.put(f"/api/v1/app/{app.id}/endpoint/{rabbit.id}",
                      json={"url": "https://example.com/hook"})  # fmt: skip
        assert put.status_code == 422
        assert put.json()["detail"][0]["loc"] == ["path", "endpoint_id"]
        msg = svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={}))
        resend = api.post(f"/api/v1/app/{app.id}/msg/{msg.id}/endpoint/{upserted.id}/resend")
        assert resend.status_code == 422
        assert "pollingEndpoint" in resend.json()["detail"][0]["msg"]
    assert "s3cr3t-pw" not in server.logs()
    assert "pg-pass-9" not in server.logs()

    svix.destination.delete(app.id, rabbit.id)
    with pytest.raises(HttpError) as missing:
        svix.destination.get(app.id, rabbit.id)
    assert missing.value.status_code == 404


#: The svix SDK's destination and poller operations: (method, path) as it sends them.
SDK_OPERATIONS = [
    ("get", "/api/v1/app/{app_id}/destination"), ("post", "/api/v1/app/{app_id}/destination"),
    ("get", "/api/v1/app/{app_id}/destination/{destination_id}"),
    ("put", "/api/v1/app/{app_id}/destination/{destination_id}"),
    ("patch", "/api/v1/app/{app_id}/destination/{destination_id}"),
    ("delete", "/api/v1/app/{app_id}/destination/{destination_id}"),
    ("post", "/api/v1/app/{app_id}/destination/{destination_id}/secret/rotate"),
    ("get", "/api/v1/app/{app_id}/destination/{destination_id}/transformation"),
    ("patch", "/api/v1/app/{app_id}/destination/{destination_id}/transformation"),
    ("get", "/api/v1/app/{app_id}/poller/{sink_id}"),
    ("get", "/api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}"),
    ("post", "/api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}/seek"),
]  # fmt: skip


def test_the_sdk_operations_are_in_the_openapi_document(server: HooklineProcess) -> None:
    """Every destination and poller operation of the SDK is documented, under its path."""
    with server.client() as api:
        paths = api.get("/api/v1/openapi.json").json()["paths"]
    missing = [(m, p) for m, p in SDK_OPERATIONS if m not in paths.get(p, {})]
    assert missing == []


def _publish(svix: Svix, app_id: str, count: int, **fields: Any) -> list[str]:
    return [
        svix.message.create(app_id, MessageIn(payload={"n": n}, **fields)).id for n in range(count)
    ]


def _drain(read: Any, first_iterator: str | None = None) -> list[str]:
    """Every message id a poller gives, page after page, until a page says done."""
    seen: list[str] = []
    iterator = first_iterator
    while True:
        page = read(iterator)
        seen += [m.id for m in page.data]
        iterator = page.iterator
        if page.done:
            return seen


def test_a_poller_reads_every_message_once(svix: Svix) -> None:
    """Published messages arrive once each through poll (with its own iterator) and through
    consumer_poll (the server keeping the cursor); seek goes back; filters apply."""
    app = svix.application.create(ApplicationIn(name="Polled"))
    poller = svix.destination.create(app.id, DestinationIn(type="pollingEndpoint", config={}))
    invoices = svix.destination.create(app.id, DestinationIn(
        type="pollingEndpoint", config={}, event_types=["invoice.*"], channels=["eu"],
    ))  # fmt: skip
    before = datetime.now(UTC)
    time.sleep(0.01)
    wanted = _publish(svix, app.id, 7, event_type="invoice.paid", channels=["eu"])
    others = _publish(svix, app.id, 5, event_type="user.created", channels=["eu"])
    others += _publish(svix, app.id, 3, event_type="invoice.paid", channels=["us"])
    everything = sorted(wanted + others)

    def polled(iterator: str | None) -> Any:
        options = MessagePollerPollOptions(limit=4, iterator=iterator)
        return svix.message.poller.poll(app.id, poller.id, options)

    # Messages settle for a second before a poll hands them out: wait until all have.
    seen = wait_until(lambda: (ids := _drain(polled)) == everything and ids, what="all polled")
    assert seen == everything
    filtered = _drain(
        lambda it: svix.message.poller.poll(
            app.id, invoices.id, MessagePollerPollOptions(limit=3, iterator=it)
        )
    )
    assert filtered == sorted(wanted)
    narrowed = svix.message.poller.poll(
        app.id, poller.id, MessagePollerPollOptions(event_type="user.created", limit=50)
    )
    assert sorted(m.id for m in narrowed.data) == sorted(others[:5])
    page = svix.message.poller.poll(app.id, poller.id, MessagePollerPollOptions(limit=1))
    assert page.data[0].payload == {"n": 0}

    def consumed(iterator: str | None) -> Any:
        options = MessagePollerConsumerPollOptions(limit=5)
        return svix.message.poller.consumer_poll(app.id, poller.id, "worker-a", options)

    assert _drain(consumed) == everything
    assert svix.message.poller.consumer_poll(app.id, poller.id, "worker-a").data == []
    sought = svix.message.poller.consumer_seek(
        app.id, poller.id, "worker-a", PollingEndpointConsumerSeekIn(after=before)
    )
    assert sought.iterator.startswith("msg_")
    assert _drain(consumed) == everything
    # Another consumer has its own cursor.
    other = svix.message.poller.consumer_poll(
        app.id, poller.id, "worker-b", MessagePollerConsumerPollOptions(limit=2)
    )
    assert [m.id for m in other.data] == everything[:2]


def _refused(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post(path, json=body)
    assert answer.status_code == 422, answer.text
    detail: dict[str, Any] = answer.json()["detail"][0]
    return detail


@pytest.mark.parametrize(
    ("body", "loc", "says"),
    [
        ({"type": "rabbitMq", "config": {"uri": "amqp://[::1", "routingKey": "x"}},
         ["body", "config", "uri"], "not a valid URL"),
        ({"type": "rabbitMq", "config": {"uri": "amqp://127.0.0.1/"}},
         ["body", "config", "routingKey"], "required"),
        ({"type": "rabbitMq", "config": {"uri": "http://127.0.0.1/", "routingKey": "x"}},
         ["body", "config", "uri"], "amqp://"),
        ({"type": "postgres", "config": {"url": "postgres://u@127.0.0.1/db"}},
         ["body", "config", "tableName"], "required"),
        ({"type": "postgres", "config": {"url": "postgres://u@127.0.0.1/db",
                                         "tableName": 'events"; DROP TABLE x; --'}},
         ["body", "config", "tableName"], "no quotes"),
        ({"type": "postgres", "config": {"url": "postgres://u@127.0.0.1/db?host=10.0.0.1",
                                         "tableName": "events"}},
         ["body", "config", "url"], "not allowed"),
        ({"type": "sqs", "config": {}}, ["body", "type"], "not available in hookline"),
        ({"type": "eventBridge", "config": {}}, ["body", "type"], "not available in hookline"),
        ({"type": "kafka", "config": {}}, ["body", "type"], "unknown destination type"),
        ({"type": "redis", "config": {"url": "redis://127.0.0.1", "stream": "has space"}},
         ["body", "config", "stream"], "no spaces"),
        ({"type": "mqtt", "config": {"url": "mqtt://127.0.0.1", "topic": "a/#"}},
         ["body", "config", "topic"], "wildcards"),
        ({"type": "rabbitMq", "config": {"uri": "amqp://169.254.169.254/", "routingKey": "x"}},
         ["body", "config", "uri"], "refused"),
    ],
)  # fmt: skip
def test_a_bad_destination_is_refused_and_nothing_is_stored(
    server: HooklineProcess, body: dict[str, Any], loc: list[str], says: str
) -> None:
    """Each bad configuration is a 422 naming its field, and no destination is stored."""
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        detail = _refused(api, f"/api/v1/app/{app['id']}/destination", body)
        assert detail["loc"] == loc
        assert says in detail["msg"]
        assert api.get(f"/api/v1/app/{app['id']}/destination").json()["data"] == []
        assert "amqp://" not in str(api.get(f"/api/v1/app/{app['id']}/audit").json()["data"])


def test_loopback_destinations_need_the_allowed_networks(start_server: Any) -> None:
    """Without HOOKLINE_ALLOWED_NETWORKS a broker on loopback is refused (SSRF defence)."""
    server = start_server(allowed_networks="")
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        for body in (
            {"type": "rabbitMq", "config": {"uri": "amqp://127.0.0.1/", "routingKey": "x"}},
            {"type": "redis", "config": {"url": "redis://localhost:6379", "stream": "s"}},
            {"type": "fifoEndpoint", "config": {"url": "http://127.0.0.1:9/hook"}},
        ):
            detail = _refused(api, f"/api/v1/app/{app['id']}/destination", body)
            assert detail["loc"][:2] == ["body", "config"]
        assert api.get(f"/api/v1/app/{app['id']}/destination").json()["data"] == []


def test_a_fifo_endpoint_receives_in_order_signed_with_its_key(
    svix: Svix, receiver: Receiver
) -> None:
    """A ``fifoEndpoint`` is delivered over HTTP to its URL, with its headers, one message
    at a time in publish order, signed with its ``key``."""
    key = "whsec_" + base64.b64encode(b"fifo-destination-key-0123").decode()
    app = svix.application.create(ApplicationIn(name="Acme"))
    svix.destination.create(app.id, DestinationIn(
        type="fifoEndpoint",
        config={"url": f"{receiver.url}/fifo", "key": key, "headers": {"X-Team": "billing"}},
    ))  # fmt: skip
    published = _publish(svix, app.id, 5, event_type="invoice.paid")
    seen = receiver.wait_for(5)
    assert [r.path for r in seen] == ["/fifo"] * 5
    assert [r.headers["webhook-id"] for r in seen] == published
    for request in seen:
        assert request.headers["x-team"] == "billing"
        Webhook(key).verify(request.body, request.headers)
