"""Redis Streams (``redis``): ``XADD`` of each message, a batch in one pipeline, on redis-py.

Configuration (hookline's own): ``url`` (``redis://`` or ``rediss://``, user, password,
database number), ``stream`` (the stream's key), ``maxLen`` (optional: ``MAXLEN ~``
trims the stream to about that many entries). Each entry's fields are ``id`` (the
message id), ``type`` (the event type), ``payload`` (the body, as signed) and the
Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``,
``content-type``). The reply to ``XADD`` is Redis's confirmation; a batch is one
pipeline (one round trip) of many ``XADD``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

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
SCHEMES = {"redis": False, "rediss": True}
#: Connections a destination's pool may hold (concurrent sends to one stream).
POOL_SIZE = 8


class RedisStreamChannel(DestinationChannel[Redis]):
    """Appends to a Redis stream; the replies are the confirmation."""

    name = "Redis"

    async def connect(self, config: Mapping[str, Any]) -> Redis:
        """A client (its own small pool) bound to the checked address (by name for
        ``rediss``: the certificate check binds the connection to the name)."""
        parts = parse_url(config.get("url"), SCHEMES, "url")
        address = await checked_host(parts.hostname, self.policy)
        url = parts.geturl() if SCHEMES[parts.scheme] else with_host(parts, address)
        client = Redis.from_url(
            url, socket_connect_timeout=self.connect_timeout, socket_timeout=self.timeout,
            max_connections=POOL_SIZE, retry=Retry(NoBackoff(), 0),
        )  # fmt: skip
        await client.ping()  # connect now: a bad address or password fails here, clearly
        return client

    async def disconnect(self, connection: Redis) -> None:
        """Close the client and its pool."""
        await connection.aclose()

    async def publish(
        self, connection: Redis, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """One pipeline of ``XADD``, one round trip."""
        stream = config_text(config, "stream")
        max_len = config.get("maxLen")
        if max_len is not None and (not isinstance(max_len, int) or max_len < 1):
            raise Refused(ErrorClass.INVALID_CONFIG, "maxLen must be a positive whole number")
        async with connection.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.xadd(stream, fields(message), maxlen=max_len, approximate=True)
            replies = await pipe.execute(raise_on_error=False)
        errors = [reply for reply in replies if isinstance(reply, ResponseError)]
        entries = count(len(messages), "entry", "entries")
        if errors:
            raise Refused(
                ErrorClass.REJECTED, f"Redis refused {len(errors)} of {entries}: {errors[0]}"
            )
        return f"Redis added {entries} to stream {stream!r}"


def fields(message: Outgoing) -> dict[FieldT, EncodableT]:
    """One stream entry's fields: the signed headers, then id, type and payload."""
    made: dict[FieldT, EncodableT] = {}
    made.update(message.headers.items())
    made["id"] = message.msg_id
    made["type"] = message.event_type
    made["payload"] = message.body
    return made
