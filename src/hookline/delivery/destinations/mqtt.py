"""MQTT (``mqtt``): QoS 1 publishes acknowledged by the broker (PUBACK), on aiomqtt.

Configuration (hookline's own): ``url`` (``mqtt://`` or ``mqtts://``, optional
``user:password@``), ``topic``. The connection speaks MQTT 5, so each message carries
the Standard Webhooks headers and the event type as user properties, and its content
type. QoS is always 1: a delivery is done when the broker's PUBACK came back; a batch
is every publish sent at once, then one wait for all the PUBACKs.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .common import (
    DestinationChannel,
    Outgoing,
    checked_host,
    config_text,
    count,
    parse_url,
)

#: Schemes, their default ports, and whether each is TLS.
SCHEMES = {"mqtt": False, "mqtts": True}
PORTS = {"mqtt": 1883, "mqtts": 8883}
#: At least once: the broker acknowledges each publish (PUBACK).
QOS = 1
#: Publishes of one connection awaiting their PUBACK at once (a batch's size and more).
IN_FLIGHT = 1000


class MqttChannel(DestinationChannel[aiomqtt.Client]):
    """Publishes at QoS 1 and waits for the PUBACKs."""

    name = "MQTT"

    async def connect(self, config: Mapping[str, Any]) -> aiomqtt.Client:
        """Connect to the checked address (by name for ``mqtts``: the certificate check
        binds the connection to the name), MQTT 5."""
        parts = parse_url(config.get("url"), SCHEMES, "url")
        address = await checked_host(parts.hostname, self.policy)
        tls = SCHEMES[parts.scheme]
        client = aiomqtt.Client(
            hostname=str(parts.hostname) if tls else address,
            port=parts.port or PORTS[parts.scheme],
            username=parts.username, password=parts.password,
            protocol=aiomqtt.ProtocolVersion.V5, timeout=self.timeout,
            max_inflight_messages=IN_FLIGHT, max_queued_outgoing_messages=0,
            tls_context=ssl.create_default_context() if tls else None,
        )  # fmt: skip
        client.pending_calls_threshold = IN_FLIGHT  # no warning for a batch in flight
        await asyncio.wait_for(client.__aenter__(), self.connect_timeout)
        return client

    def is_open(self, connection: aiomqtt.Client) -> bool:
        """Usable while paho's client is connected."""
        return bool(connection._client.is_connected())

    async def disconnect(self, connection: aiomqtt.Client) -> None:
        """Disconnect cleanly."""
        await connection.__aexit__(None, None, None)

    async def publish(
        self, connection: aiomqtt.Client, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """Publish every message at QoS 1, then wait for all the PUBACKs."""
        topic = config_text(config, "topic")
        await asyncio.gather(
            *(
                connection.publish(topic, message.body, qos=QOS, properties=properties(message))
                for message in messages
            )
        )
        return f"MQTT broker acknowledged {count(len(messages), 'message')} on {topic!r}"


def properties(message: Outgoing) -> Properties:
    """MQTT 5 PUBLISH properties: content type, and the signed headers and the event
    type as user properties."""
    made = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    headers = dict(message.headers)
    made.ContentType = headers.pop("content-type", "application/json")
    made.UserProperty = [*headers.items(), ("event-type", message.event_type)]
    return made
