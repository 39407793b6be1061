"""MQTT (``mqtt``): QoS 1 publishes acknowledged by the broker (PUBACK), on aiomqtt.

Configuration (hookline's own): ``url`` (``mqtt://`` or ``mqtts://``, optional
``user:password@``), ``topic``. The connection speaks MQTT 5, so each message carries
the Standard Webhooks headers and the event type as user properties, and its content
type. QoS is always 1: a delivery is done when the broker's PUBACK came back; a batch
is every publish sent at once, then one wait for all the PUBACKs. A PUBACK with a
failure reason code (MQTT 5: "not authorized", "quota exceeded") fails the attempt.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import aiomqtt
from paho.mqtt import client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hookline.domain.outcome import ErrorClass

from .common import (
    DestinationChannel,
    Outgoing,
    Refused,
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


class AckedClient(aiomqtt.Client):
    """aiomqtt's client, keeping what each PUBACK said: aiomqtt 2.5 returns from a QoS 1
    ``publish`` on any PUBACK, so an MQTT 5 broker's "not authorized" (reason code
    0x87) would count as delivered. ``publish_acked`` answers the failure's reason."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusals: dict[int, str] = {}
        self._mids: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
            "mids", default=None
        )
        paho = self._client
        publish = paho.publish

        def noting_publish(*args: Any, **kwargs: Any) -> mqtt.MQTTMessageInfo:
            # Called synchronously by aiomqtt's publish, in the publishing task: the
            # message id is noted where that task can read it.
            info = publish(*args, **kwargs)
            noted = self._mids.get()
            if noted is not None:
                noted.append(info.mid)
            return info

        paho.publish = noting_publish  # type: ignore[method-assign]

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        if getattr(reason_code, "is_failure", False):
            self.refusals[mid] = str(reason_code)
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_acked(self, topic: str, body: bytes, properties: Properties) -> str | None:
        """Publish at QoS 1 and wait for the PUBACK; None if it accepted, else its reason."""
        mids: list[int] = []
        self._mids.set(mids)
        await self.publish(topic, body, qos=QOS, properties=properties)
        return self.refusals.pop(mids[0], None) if mids else None


class MqttChannel(DestinationChannel[AckedClient]):
    """Publishes at QoS 1 and waits for the PUBACKs."""

    name = "MQTT"

    async def connect(self, config: Mapping[str, Any]) -> AckedClient:
        """Connect to the checked address (by name for ``mqtts``: the certificate check
        binds the connection to the name), MQTT 5."""
        parts = parse_url(config.get("url"), SCHEMES, "url")
        address = await checked_host(parts.hostname, self.policy)
        tls = SCHEMES[parts.scheme]
        client = AckedClient(
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

    def is_open(self, connection: AckedClient) -> bool:
        """Usable while paho's client is connected."""
        return bool(connection._client.is_connected())

    async def disconnect(self, connection: AckedClient) -> None:
        """Disconnect cleanly."""
        await connection.__aexit__(None, None, None)

    async def publish(
        self, connection: AckedClient, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """Publish every message at QoS 1, then wait for all the PUBACKs."""
        topic = config_text(config, "topic")
        answers = await asyncio.gather(
            *(
                asyncio.ensure_future(  # a task each: each notes its own message id
                    connection.publish_acked(topic, message.body, properties(message))
                )
                for message in messages
            )
        )
        refused = [answer for answer in answers if answer is not None]
        if refused:
            raise Refused(
                ErrorClass.REJECTED,
                f"MQTT broker refused {len(refused)} of {count(len(messages), 'message')} "
                f"on {topic!r}: {refused[0]}",
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
