"""Received events as messages: the one place a provider's request becomes a ``Message``.

The gateway (a request verified at ``/in/<token>``) and a backfill (an event a
fetcher found) build their messages here, so both take the same path onwards:
the same dedup key, the same stored headers, the same fan-out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from hookline.domain import ids
from hookline.domain.models import Message, Source
from hookline.domain.text import text_problem
from hookline.domain.verifiers import credential_headers

#: Headers that belong to one hop (or carry a credential meant for hookline): never forwarded.
HOP_HEADERS = frozenset(
    {
        "host", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
        "trailer", "upgrade", "proxy-authorization", "proxy-connection", "expect",
        "authorization", "cookie",
    }
)  # fmt: skip
#: The event type of a received event when neither the provider nor the source names one.
DEFAULT_EVENT_TYPE = "inbound"
#: Longest provider event id kept as is; longer ones (the provider's to choose) are hashed,
#: so they fit an index row on every database.
MAX_PLAIN_KEY = 200
#: Longest provider event type kept; a longer one is not a type anyone subscribes to.
MAX_EVENT_TYPE = 256


def dedup_key(provider_id: str | None) -> str | None:
    """The key a provider's event id is remembered by (hashed when long, or when it holds
    text a database column cannot keep alike everywhere: a NUL, a lone surrogate)."""
    if provider_id is None or (
        len(provider_id) <= MAX_PLAIN_KEY and text_problem(provider_id) is None
    ):
        return provider_id
    return "sha256:" + hashlib.sha256(provider_id.encode("utf-8", "surrogatepass")).hexdigest()


def forwarded_headers(source: Source, headers: Mapping[str, str]) -> dict[str, str]:
    """What of the provider's (lower-cased) headers travels on with the event."""
    if not source.forward_headers:
        return {"content-type": headers["content-type"]} if "content-type" in headers else {}
    credentials = credential_headers(source.verifier, source.config)
    return {k: v for k, v in headers.items() if k not in HOP_HEADERS and k not in credentials}


def received_message(
    source: Source,
    body: bytes,
    headers: Mapping[str, str],
    event_type: str | None,
    now: float,
    retention: float | None = None,
) -> Message:
    """The message a received event becomes, in its source's application.

    ``retention``: seconds its payload is kept (None: until it is deleted).
    """
    return Message(
        id=ids.new_id(ids.MESSAGE, now), app_id=source.app_id,
        # A type nobody can subscribe to (too long, a NUL, a lone surrogate) is the default.
        event_type=event_type
        if event_type and len(event_type) <= MAX_EVENT_TYPE and text_problem(event_type) is None
        else DEFAULT_EVENT_TYPE,
        payload=body,
        headers=forwarded_headers(source, headers), source_id=source.id, created_at=now,
        expires_at=None if retention is None else now + retention,
    )  # fmt: skip
