"""Destinations: endpoints that are not an HTTP URL (a broker, a database, a poller).

A destination is an endpoint with a kind and its configuration, in the shape of the
svix SDK's ``DestinationIn`` (``{"type": "rabbitMq", "config": {...}}``): the
configuration's secrets (passwords, tokens, credentials inside URIs) are sealed at
rest like endpoint secrets and unsealed into ``Destination.config`` when a delivery is
claimed. The worker hands a delivery whose endpoint has a destination to the delivery
channel registered under its ``kind`` (``delivery/channels.py``); everything else about
the delivery (retries, attempts, the circuit, rate limits, filters, transformations,
batching) is the same as for HTTP.

``check_config`` is the pure check of a configuration (422 naming the field, before
anything is stored); ``masked_config`` is what answers and audit entries show of it;
``hosts`` are the network addresses it names, for the SSRF defence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from hookline.errors import ValidationError

#: Kinds hookline delivers to, by the svix SDK's type names (and hookline's own).
RABBITMQ = "rabbitMq"
POSTGRES = "postgres"
POLLING = "pollingEndpoint"
FIFO = "fifoEndpoint"
REDIS = "redis"
NATS = "nats"
MQTT = "mqtt"

#: Every kind hookline can store and deliver to.
KINDS = (RABBITMQ, POSTGRES, POLLING, FIFO, REDIS, NATS, MQTT)

#: Types the svix SDK names that need a cloud service hookline does not talk to: refused.
UNAVAILABLE = frozenset(
    {
        "azureBlobStorage", "otelTracing", "amazonS3", "googleCloudStorage",
        "googleCloudPubSub", "sqs", "sns", "bigQuery", "clickhouse", "eventBridge",
        "snowflake", "redshift", "elasticSearch",
    }
)  # fmt: skip

#: What replaces a password or token in anything shown (answers, audit entries, attempts).
MASK = "********"

#: The URI schemes each kind's connection URL may use.
_SCHEMES = {
    RABBITMQ: ("amqp", "amqps"),
    POSTGRES: ("postgres", "postgresql"),
    FIFO: ("http", "https"),
    REDIS: ("redis", "rediss"),
    NATS: ("nats", "tls"),
    MQTT: ("mqtt", "mqtts"),
}
#: Default ports, for the SSRF check of a URL that names none.
_PORTS = {
    "amqp": 5672, "amqps": 5671, "postgres": 5432, "postgresql": 5432, "http": 80,
    "https": 443, "redis": 6379, "rediss": 6379, "nats": 4222, "tls": 4222, "mqtt": 1883,
    "mqtts": 8883,
}  # fmt: skip

#: A PostgreSQL identifier hookline quotes itself: no quotes or odd characters to escape.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")
#: A NATS subject to publish on: dot-separated tokens, no wildcards or spaces.
_NATS_SUBJECT = re.compile(r"[^.\s*>]+(\.[^.\s*>]+)*")
_NATS_STREAM = re.compile(r"[A-Za-z0-9_-]{1,256}")
_REDIS_STREAM = re.compile(r"[^\s]{1,512}")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PEM = "-----BEGIN CERTIFICATE-----"
_MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a delivery goes when it is not an HTTP POST: its kind and configuration.

    ``config`` holds the unsealed configuration as the API took it (camelCase keys, e.g.
    ``{"uri": "amqp://...", "routingKey": "invoices", "mandatory": true}``).
    """

    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)


def check_kind(kind: str) -> str:
    """``kind`` if hookline delivers to it; else a 422 naming ``type``."""
    if kind in KINDS:
        return kind
    if kind in UNAVAILABLE:
        raise ValidationError(
            f"{kind!r} destinations need a cloud service: not available in hookline "
            f"(available: {', '.join(KINDS)})",
            field=("type",),
        )
    raise ValidationError(
        f"unknown destination type {kind!r} (available: {', '.join(KINDS)})", field=("type",)
    )


def check_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration of a ``kind`` destination, checked and with its defaults filled in.

    A bad value raises ``ValidationError`` naming it (``("config", "routingKey")``);
    keys the kind does not take are refused too, so a misspelt one is not silently lost.
    """
    check_kind(kind)
    if not isinstance(config, Mapping):
        raise ValidationError("must be an object", field=("config",))
    checker, allowed = _CHECKERS[kind]
    for key in config:
        if key not in allowed:
            raise ValidationError(
                f"{kind} destinations do not take {key!r} (they take: "
                f"{', '.join(allowed) or 'nothing'})",
                field=("config", str(key)),
            )
    return checker(config)


def _text(config: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = config.get(key)
    if value is None:
        if required:
            raise ValidationError("is required", field=("config", key))
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string", field=("config", key))
    if required and not value.strip():
        raise ValidationError("must not be empty", field=("config", key))
    if len(value) > (65536 if key == "sslRootCert" else _MAX_TEXT):
        raise ValidationError("is too long", field=("config", key))
    return value


def _url(config: Mapping[str, Any], key: str, kind: str) -> str:
    value = _text(config, key)
    assert value is not None
    parts = _split(value, key)
    schemes = _SCHEMES[kind]
    if parts.scheme not in schemes:
        raise ValidationError(
            f"must be a {' or '.join(s + '://' for s in schemes)} URL", field=("config", key)
        )
    if not parts.hostname:
        raise ValidationError("the URL has no host", field=("config", key))
    if any(ord(c) < 33 for c in value):
        raise ValidationError("the URL must not contain spaces or control characters",
                              field=("config", key))  # fmt: skip
    return value


def _split(value: str, key: str) -> SplitResult:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - reading the port checks it
    except ValueError as error:
        raise ValidationError(f"is not a valid URL: {error}", field=("config", key)) from None
    return parts


def _bool(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError("must be true or false", field=("config", key))
    return value


def _rabbitmq(config: Mapping[str, Any]) -> dict[str, Any]:
    uri = _url(config, "uri", RABBITMQ)
    routing_key = _text(config, "routingKey")
    assert routing_key is not None
    if len(routing_key.encode()) > 255:
        raise ValidationError("must be at most 255 bytes", field=("config", "routingKey"))
    return {"uri": uri, "routingKey": routing_key, "mandatory": _bool(config, "mandatory", False)}


def _postgres(config: Mapping[str, Any]) -> dict[str, Any]:
    url = _url(config, "url", POSTGRES)
    table = _text(config, "tableName")
    assert table is not None
    segments = table.split(".")
    if len(segments) > 2 or not all(_IDENTIFIER.fullmatch(s) for s in segments):
        raise ValidationError(
            "must be a table name, optionally schema-qualified (public.events): letters, "
            "digits, '_' and '$', starting with a letter or '_', no quotes",
            field=("config", "tableName"),
        )
    _postgres_url_options(url)
    cert = _text(config, "sslRootCert", required=False)
    if cert is not None and _PEM not in cert:
        raise ValidationError("must be a PEM certificate", field=("config", "sslRootCert"))
    checked: dict[str, Any] = {"url": url, "tableName": table}
    password = _text(config, "password", required=False)
    if password is not None:
        checked["password"] = password
    if cert is not None:
        checked["sslRootCert"] = cert
    return checked


#: Connection options a PostgreSQL URL may carry; the others could name another host
#: (``host``, ``hostaddr``, ``service``) past the SSRF check, or a file on this machine.
_POSTGRES_OPTIONS = frozenset(
    {"sslmode", "connect_timeout", "application_name", "target_session_attrs", "dbname", "user"}
)


def _postgres_url_options(url: str) -> None:
    parts = urlsplit(url)
    if "," in parts.netloc:
        raise ValidationError("must name one host", field=("config", "url"))
    for option in parse_qs(parts.query, keep_blank_values=True):
        if option not in _POSTGRES_OPTIONS:
            raise ValidationError(
                f"the URL option {option!r} is not allowed (allowed: "
                f"{', '.join(sorted(_POSTGRES_OPTIONS))})",
                field=("config", "url"),
            )


def _polling(config: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _fifo(config: Mapping[str, Any]) -> dict[str, Any]:
    url = _url(config, "url", FIFO)
    headers = config.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValidationError("must be an object of strings", field=("config", "headers"))
    for name in headers:
        if not _HEADER_NAME.fullmatch(name):
            raise ValidationError(f"{name!r} is not a header name", field=("config", "headers"))
    checked: dict[str, Any] = {"url": url, "headers": dict(headers)}
    key = _text(config, "key", required=False)
    if key is not None:
        checked["key"] = key
    return checked


def _redis(config: Mapping[str, Any]) -> dict[str, Any]:
    url = _url(config, "url", REDIS)
    stream = _text(config, "stream")
    assert stream is not None
    if not _REDIS_STREAM.fullmatch(stream):
        raise ValidationError("must be 1 to 512 characters, no spaces", field=("config", "stream"))
    max_len = config.get("maxLen")
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ValidationError("must be a positive integer", field=("config", "maxLen"))
    return {"url": url, "stream": stream, "maxLen": max_len}


def _nats(config: Mapping[str, Any]) -> dict[str, Any]:
    url = _url(config, "url", NATS)
    subject = _text(config, "subject")
    assert subject is not None
    if not _NATS_SUBJECT.fullmatch(subject):
        raise ValidationError(
            "must be a subject to publish on: dot-separated tokens, no spaces or wildcards",
            field=("config", "subject"),
        )
    stream = _text(config, "stream", required=False)
    if stream is not None and not _NATS_STREAM.fullmatch(stream):
        raise ValidationError("must be letters, digits, '-' or '_'", field=("config", "stream"))
    return {"url": url, "subject": subject, "stream": stream}


def _mqtt(config: Mapping[str, Any]) -> dict[str, Any]:
    url = _url(config, "url", MQTT)
    topic = _text(config, "topic")
    assert topic is not None
    if any(c in topic for c in "+#\0") or len(topic.encode()) > 65535:
        raise ValidationError(
            "must be a topic to publish on: no wildcards ('+', '#')", field=("config", "topic")
        )
    qos = config.get("qos", 1)
    if qos not in (1, 2) or isinstance(qos, bool):
        # QoS 0 has no acknowledgement: a delivery could never be known to have arrived.
        raise ValidationError("must be 1 or 2 (acknowledged)", field=("config", "qos"))
    return {"url": url, "topic": topic, "qos": qos}


_Checker = Callable[[Mapping[str, Any]], dict[str, Any]]
_CHECKERS: dict[str, tuple[_Checker, tuple[str, ...]]] = {
    RABBITMQ: (_rabbitmq, ("uri", "routingKey", "mandatory")),
    POSTGRES: (_postgres, ("url", "password", "tableName", "sslRootCert")),
    POLLING: (_polling, ()),
    FIFO: (_fifo, ("url", "headers", "key")),
    REDIS: (_redis, ("url", "stream", "maxLen")),
    NATS: (_nats, ("url", "subject", "stream")),
    MQTT: (_mqtt, ("url", "topic", "qos")),
}

#: The configuration key holding each kind's connection URL.
URL_KEYS = {RABBITMQ: "uri", POSTGRES: "url", FIFO: "url", REDIS: "url", NATS: "url", MQTT: "url"}
#: Keys whose whole value is a secret: never shown.
_SECRET_KEYS = {POSTGRES: ("password",), FIFO: ("key",)}


def masked_url(url: str) -> str:
    """``url`` with its password (or lone token) replaced by the mask."""
    try:
        parts = urlsplit(url)
        password, user = parts.password, parts.username
    except ValueError:
        return MASK
    if password is None and user is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    # A URL with one credential (nats://token@host) may carry a token there: mask it too.
    who = f"{user}:{MASK}" if password is not None else MASK
    return parts._replace(netloc=f"{who}@{host}").geturl()


def masked_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of a configuration: passwords and tokens masked or left out."""
    shown = {k: v for k, v in config.items() if k not in _SECRET_KEYS.get(kind, ())}
    url_key = URL_KEYS.get(kind)
    if url_key is not None and isinstance(shown.get(url_key), str):
        shown[url_key] = masked_url(shown[url_key])
    if kind == FIFO and isinstance(shown.get("headers"), Mapping):
        shown["headers"] = dict.fromkeys(shown["headers"], MASK)
    return shown


def display_url(kind: str, config: Mapping[str, Any]) -> str:
    """The destination as one line for the endpoint's ``url`` column and its attempts:
    its connection URL without credentials, or ``<kind>:`` for a poller."""
    url_key = URL_KEYS.get(kind)
    if url_key is None:
        return f"{kind}:"
    return masked_url(str(config[url_key]))


def hosts(kind: str, config: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The (host, port) pairs a checked configuration connects to: what the SSRF defence
    must judge. A poller connects nowhere."""
    url_key = URL_KEYS.get(kind)
    if url_key is None:
        return []
    parts = urlsplit(str(config[url_key]))
    assert parts.hostname is not None  # check_config refuses a URL without one
    return [(parts.hostname, parts.port or _PORTS[parts.scheme])]
