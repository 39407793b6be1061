"""RabbitMQ (``rabbitMq``): AMQP 0-9-1 publishes with publisher confirms, on aiormq.

Configuration (the svix SDK's): ``uri`` (``amqp://`` or ``amqps://``, user, password,
virtual host), ``routingKey`` (published on the default exchange, so the queue of that
name), ``mandatory`` (an unroutable message is returned by the broker: a failed
attempt, not a silent drop). Each message is persistent and carries its message id,
event type (``type``), timestamp, content type and the Standard Webhooks headers in its
properties. A batch is one publish of many messages and one wait for their confirms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection
from pamqp.commands import Basic

from hookline.domain.outcome import ErrorClass

from .common import (
    DestinationChannel,
    Outgoing,
    Refused,
    checked_host,
    config_text,
    count,
    parse_url,
    with_host,
)

#: Schemes, and whether each is TLS.
SCHEMES = {"amqp": False, "amqps": True}
#: Persistent: a confirmed message survives a broker restart (on a durable queue).
PERSISTENT = 2


@dataclass(slots=True)
class AmqpLink:
    """A connection and its confirm-mode channel, shared by every send to one destination."""

    connection: AbstractConnection
    channel: AbstractChannel


class RabbitMqChannel(DestinationChannel[AmqpLink]):
    """Publishes to RabbitMQ and waits for the broker's confirms."""

    name = "RabbitMQ"

    async def connect(self, config: Mapping[str, Any]) -> AmqpLink:
        """Connect to the checked address (by name for ``amqps``: the certificate check
        binds the connection to the name) and open a channel in confirm mode."""
        parts = parse_url(config.get("uri"), SCHEMES, "uri")
        address = await checked_host(parts.hostname, self.policy)
        url = parts.geturl() if SCHEMES[parts.scheme] else with_host(parts, address)
        connection = await asyncio.wait_for(aiormq.connect(url), self.connect_timeout)
        try:
            # on_return_raises: a returned (unroutable) message fails its publish.
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        except BaseException:
            await connection.close()
            raise
        return AmqpLink(connection, channel)

    def is_open(self, connection: AmqpLink) -> bool:
        """Usable while both the connection and the channel are open."""
        return not (connection.connection.is_closed or connection.channel.is_closed)

    async def disconnect(self, connection: AmqpLink) -> None:
        """Close the connection (and its channel)."""
        await connection.connection.close()

    async def publish(
        self, connection: AmqpLink, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """Publish every message, then wait for all their confirms at once."""
        routing_key = config_text(config, "routingKey")
        mandatory = bool(config.get("mandatory", False))
        channel = connection.channel
        answers = await asyncio.gather(
            *(
                channel.basic_publish(
                    message.body,
                    routing_key=routing_key,
                    properties=properties(message),
                    mandatory=mandatory,
                )
                for message in messages
            ),
            return_exceptions=True,
        )
        returned = [a for a in answers if isinstance(a, aiormq.exceptions.PublishError)]
        nacked = [
            a for a in answers
            if isinstance(a, aiormq.exceptions.DeliveryError) and a not in returned
        ]  # fmt: skip
        broken = [
            a for a in answers
            if isinstance(a, BaseException) and not isinstance(a, aiormq.exceptions.DeliveryError)
        ]  # fmt: skip
        if broken:
            raise broken[0]  # the connection or channel failed: the base class reconnects
        if returned:
            frame = returned[0].frame
            reason = getattr(frame, "reply_text", "") or "unroutable"
            raise Refused(
                ErrorClass.UNROUTABLE,
                f"RabbitMQ returned {len(returned)} of {count(len(messages), 'message')} "
                f"({reason}): no queue is bound to routing key {routing_key!r}",
            )
        if nacked:
            raise Refused(
                ErrorClass.REJECTED,
                f"RabbitMQ refused (nack) {len(nacked)} of {count(len(messages), 'message')}",
            )
        return f"RabbitMQ confirmed {count(len(messages), 'message')}"


def properties(message: Outgoing) -> Basic.Properties:
    """The AMQP properties of one message: its id, type, time, content type and the
    signed headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``...)."""
    headers: dict[str, Any] = dict(message.headers)
    return Basic.Properties(
        message_id=message.msg_id,
        message_type=message.event_type,
        timestamp=datetime.fromtimestamp(message.timestamp, UTC),
        content_type=headers.pop("content-type", "application/json"),
        delivery_mode=PERSISTENT,
        headers=headers,
    )
