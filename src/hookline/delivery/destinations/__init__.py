"""Delivery channels to brokers and databases: a module per destination kind.

Each is a ``DeliveryChannel`` (``delivery/channels.py``) registered under its kind
(``domain/destinations.py``): ``rabbitMq`` (``rabbitmq.py``, aiormq), ``postgres``
(``postgres.py``, psycopg), ``redis`` (``redis.py``, redis-py), ``nats``
(``nats.py``, nats-py) and ``mqtt`` (``mqtt.py``, aiomqtt). ``common.py`` holds what
they share: signing each message, the SSRF check of the host, the connection cache,
and turning broker trouble into an attempt's result. See docs/destination-channels.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from hookline.domain import destinations
from hookline.domain.ssrf import DestinationPolicy

from ..channels import DeliveryChannel
from .common import DestinationChannel
from .mqtt import MqttChannel
from .nats import NatsChannel
from .postgres import PostgresChannel
from .rabbitmq import RabbitMqChannel
from .redis import RedisStreamChannel

__all__ = [
    "DestinationChannel",
    "DestinationChannels",
    "MqttChannel",
    "NatsChannel",
    "PostgresChannel",
    "RabbitMqChannel",
    "RedisStreamChannel",
]


class DestinationChannels:
    """A worker's channels to brokers and databases, by kind; ``close`` at shutdown."""

    def __init__(
        self,
        policy: DestinationPolicy | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 15.0,
    ) -> None:
        arguments = (policy, connect_timeout, timeout)
        self.channels: dict[str, DestinationChannel[object]] = {
            destinations.RABBITMQ: RabbitMqChannel(*arguments),  # type: ignore[dict-item]
            destinations.POSTGRES: PostgresChannel(*arguments),  # type: ignore[dict-item]
            destinations.REDIS: RedisStreamChannel(*arguments),  # type: ignore[dict-item]
            destinations.NATS: NatsChannel(*arguments),  # type: ignore[dict-item]
            destinations.MQTT: MqttChannel(*arguments),  # type: ignore[dict-item]
        }

    @property
    def by_kind(self) -> Mapping[str, DeliveryChannel]:
        """The channels for ``Channels(by_kind=...)``."""
        return self.channels

    async def close(self) -> None:
        """Close every connection every channel opened."""
        for channel in self.channels.values():
            await channel.close()
