"""NATS JetStream (``nats``): publishes acknowledged by the stream, on nats-py.

Configuration (hookline's own): ``url`` (``nats://`` or ``tls://``, optional
``user:password@``), ``subject`` (a stream must capture it). Each message carries the
Standard Webhooks headers and ``Nats-Msg-Id`` (the message id: JetStream drops a second
copy inside the stream's duplicate window, so a retry after a lost ack is stored once),
plus ``Nats-Event-Type``. A delivery is done when its ``PubAck`` arrived; a batch is
every publish sent at once, then one wait for all their acks.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

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

logger = logging.getLogger(__name__)

#: Schemes, and whether each is TLS.
SCHEMES = {"nats": False, "tls": True}
#: JetStream's de-duplication header.
MSG_ID = "Nats-Msg-Id"


@dataclass(slots=True)
class NatsLink:
    """A connection and its JetStream context, shared by every send to one destination."""

    client: Client
    jetstream: JetStreamContext


async def _quiet(error: Exception) -> None:
    """nats-py reports connection trouble here too; the attempt's result says it."""
    logger.debug("nats connection error", extra={"error": str(error)})


class NatsChannel(DestinationChannel[NatsLink]):
    """Publishes to JetStream and waits for the PubAcks."""

    name = "NATS"

    async def connect(self, config: Mapping[str, Any]) -> NatsLink:
        """Connect to the checked address (for ``tls://`` with the name as the TLS
        server name). No reconnecting inside nats-py: a broken connection fails its
        attempt and the next send opens a new one."""
        parts = parse_url(config.get("url"), SCHEMES, "url")
        address = await checked_host(parts.hostname, self.policy)
        tls = SCHEMES[parts.scheme]
        seen: list[Exception] = []

        async def noted(error: Exception) -> None:
            seen.append(error)
            await _quiet(error)

        try:
            # nats-py retries the first connect even with reconnecting off; one retry
            # at once (max_reconnect_attempts=1) then "no servers", with the cause kept.
            client = await nats.connect(
                servers=[with_host(parts, address)],
                connect_timeout=max(1, int(self.connect_timeout)), allow_reconnect=False,
                max_reconnect_attempts=1, reconnect_time_wait=0.05, error_cb=noted,
                name="hookline", tls=ssl.create_default_context() if tls else None,
                tls_hostname=parts.hostname if tls else None,
            )  # fmt: skip
        except NoServersError:
            if seen:
                raise seen[-1] from None
            raise
        return NatsLink(client, client.jetstream(timeout=self.timeout))

    def is_open(self, connection: NatsLink) -> bool:
        """Usable while connected."""
        return bool(connection.client.is_connected)

    async def disconnect(self, connection: NatsLink) -> None:
        """Close the connection."""
        await connection.client.close()

    async def publish(
        self, connection: NatsLink, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """Send every publish, then wait for their acks together."""
        subject = config_text(config, "subject")
        jetstream = connection.jetstream
        pending = [
            await jetstream.publish_async(subject, message.body, headers=headers(message))
            for message in messages
        ]
        answers = await asyncio.gather(*pending, return_exceptions=True)
        if any(isinstance(a, NoStreamResponseError) for a in answers):
            raise Refused(
                ErrorClass.REJECTED, f"NATS: no JetStream stream captures subject {subject!r}"
            )
        refused = [a for a in answers if isinstance(a, APIError)]
        if refused:
            raise Refused(
                ErrorClass.REJECTED,
                f"NATS JetStream refused {len(refused)} of "
                f"{count(len(messages), 'message')}: {refused[0]}",
            )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        duplicates = sum(1 for a in answers if getattr(a, "duplicate", False))
        stream = getattr(answers[0], "stream", "?")
        said = f"NATS JetStream stream {stream!r} acknowledged {count(len(messages), 'message')}"
        return f"{said} ({duplicates} already stored)" if duplicates else said


def headers(message: Outgoing) -> dict[str, str]:
    """The NATS headers of one message: the signed ones, the event type, the dedup id."""
    made = dict(message.headers)
    made["Nats-Event-Type"] = message.event_type
    made[MSG_ID] = message.msg_id
    return made
