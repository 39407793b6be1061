"""domain.destinations: each kind's configuration checked with the field at fault named,
secrets masked for showing, and the hosts the SSRF defence must judge."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.domain import destinations
from hookline.domain.audit import snapshot
from hookline.domain.destinations import Destination, check_config, hosts, masked_config
from hookline.domain.models import Endpoint
from hookline.errors import ValidationError


def test_every_kind_takes_its_svix_shaped_configuration_with_defaults() -> None:
    """A valid configuration of each kind comes back checked, defaults filled in."""
    assert check_config("rabbitMq", {"uri": "amqp://u:p@mq.example.com/%2F",
                                     "routingKey": "k"})["mandatory"] is False  # fmt: skip
    assert check_config("postgres", {"url": "postgres://u@db.example.com/app?sslmode=require",
                                     "password": "pw", "tableName": "public.events"}) == {
        "url": "postgres://u@db.example.com/app?sslmode=require", "password": "pw",
        "tableName": "public.events",
    }  # fmt: skip
    assert check_config("pollingEndpoint", {}) == {}
    assert check_config("fifoEndpoint", {"url": "https://example.com/h"})["headers"] == {}
    assert check_config("redis", {"url": "rediss://r.example.com", "stream": "s"})["maxLen"] is None
    assert check_config("nats", {"url": "nats://n.example.com", "subject": "a.b"})["stream"] is None
    assert check_config("mqtt", {"url": "mqtt://m.example.com", "topic": "a/b"})["qos"] == 1


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("rabbitMq", {"uri": "amqp://h:notaport/", "routingKey": "k"}, "uri"),
        ("rabbitMq", {"uri": "amqp://h/", "routingKey": ""}, "routingKey"),
        ("rabbitMq", {"uri": "amqp://h/", "routingKey": "k", "mandatory": "yes"}, "mandatory"),
        ("rabbitMq", {"uri": "amqp://h/", "routingKey": "k", "exchange": "x"}, "exchange"),
        ("postgres", {"url": "postgres://h/db", "tableName": "a.b.c"}, "tableName"),
        ("postgres", {"url": "postgres://h/db", "tableName": "ev'ents"}, "tableName"),
        ("postgres", {"url": "postgres://h1,h2/db", "tableName": "t"}, "url"),
        ("postgres", {"url": "postgres://h/db?hostaddr=10.0.0.1", "tableName": "t"}, "url"),
        ("postgres", {"url": "postgres://h/db", "tableName": "t", "sslRootCert": "x"},
         "sslRootCert"),
        ("fifoEndpoint", {"url": "ftp://h/"}, "url"),
        ("fifoEndpoint", {"url": "https://h/", "headers": {"bad name": "v"}}, "headers"),
        ("redis", {"url": "redis://h", "stream": "s", "maxLen": 0}, "maxLen"),
        ("nats", {"url": "nats://h", "subject": "orders.*"}, "subject"),
        ("nats", {"url": "nats://h", "subject": "a", "stream": "has space"}, "stream"),
        ("mqtt", {"url": "mqtt://h", "topic": "t", "qos": 0}, "qos"),
        ("mqtt", {"url": "mqtts:///", "topic": "t"}, "url"),
    ],
)  # fmt: skip
def test_a_bad_value_names_its_field(kind: str, config: dict[str, Any], field: str) -> None:
    """Each bad value is refused naming ``config.<field>``."""
    with pytest.raises(ValidationError) as refused:
        check_config(kind, config)
    assert refused.value.field == ("config", field)


@pytest.mark.parametrize("kind", sorted(destinations.UNAVAILABLE))
def test_cloud_types_are_refused_naming_type(kind: str) -> None:
    """Every cloud type the svix SDK names is refused as not available in hookline."""
    with pytest.raises(ValidationError) as refused:
        check_config(kind, {})
    assert refused.value.field == ("type",)
    assert "not available in hookline" in refused.value.detail


def test_secrets_are_masked_for_showing() -> None:
    """URI passwords and tokens, the postgres password and a FIFO key are never shown."""
    assert masked_config("rabbitMq", {"uri": "amqp://u:pw@h/", "routingKey": "k"})["uri"] == (
        "amqp://u:********@h/"
    )
    assert masked_config("nats", {"url": "nats://tok@h:4222", "subject": "s"})["url"] == (
        "nats://********@h:4222"
    )
    shown = masked_config("postgres", {"url": "postgres://u@h/db", "password": "pw",
                                       "tableName": "t"})  # fmt: skip
    assert "password" not in shown
    assert "key" not in masked_config("fifoEndpoint", {"url": "https://h/", "key": "whsec_x"})


def test_the_audit_trail_masks_a_destination() -> None:
    """An endpoint snapshot shows its destination's configuration masked."""
    endpoint = Endpoint(
        id="ep_1", app_id="app_1", url="amqp://u:********@h/", secret="whsec_x",
        destination=Destination("rabbitMq", {"uri": "amqp://u:hunter2@h/", "routingKey": "k"}),
    )  # fmt: skip
    assert "hunter2" not in str(snapshot(endpoint))


def test_hosts_are_what_the_ssrf_defence_judges() -> None:
    """The connection URL's host and port (defaulted per scheme); a poller has none."""
    assert hosts("rabbitMq", {"uri": "amqps://u:p@mq.example.com/"}) == [("mq.example.com", 5671)]
    assert hosts("redis", {"url": "redis://[::1]:7000"}) == [("::1", 7000)]
    assert hosts("pollingEndpoint", {}) == []
