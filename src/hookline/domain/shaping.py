"""What an endpoint receives: the published payload in its version's shape, transformed
as the endpoint asks, or several of them in one batch. Pure logic.

Without versioning or a transformation, the body is the stored bytes untouched, so a
forwarded inbound event arrives byte for byte as the provider sent it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from hookline.domain.transform import compile_cached

#: The header naming the version an event's payload is shaped in.
VERSION_HEADER = "hookline-event-version"
#: The header counting the events of a batch.
BATCH_SIZE_HEADER = "hookline-batch-size"

_UNPARSED = object()


@dataclass(frozen=True, slots=True)
class Shaped:
    """A body to sign and send, and the headers that go with it."""

    body: bytes
    headers: dict[str, str]


def _text(document: Mapping[str, Any]) -> str:
    """A document's canonical JSON: the key its compiled form is cached under."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()


def _older_version(
    endpoint_version: int, versioning: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The transformation into the endpoint's version, if it is an older one that has one."""
    if versioning is None or versioning.get("latest") in (None, endpoint_version):
        return None
    older: Mapping[str, Any] | None = (versioning.get("transformations") or {}).get(
        str(endpoint_version)
    )
    return older


def shape(
    payload: bytes,
    endpoint_version: int,
    versioning: Mapping[str, Any] | None,
    transformation: Mapping[str, Any] | None,
    max_cost: int | None = None,
) -> Shaped:
    """The body for one endpoint: the version's transformation, then the endpoint's.

    Raises ``TransformError`` when a transformation fails on this payload (and
    ``CostExceeded`` past ``max_cost``, if given, a lower budget than the full one).
    """
    headers: dict[str, str] = {}
    body = payload
    value: object = _UNPARSED
    latest = None if versioning is None else versioning.get("latest")
    if latest is not None:
        version = latest
        older = _older_version(endpoint_version, versioning)
        if older is not None:
            result = compile_cached(_text(older)).apply_bytes(payload, max_cost)
            body, value, version = result.body, result.value, endpoint_version
            headers.update(result.headers)
        headers[VERSION_HEADER] = str(version)
    if transformation:
        compiled = compile_cached(_text(transformation))
        if value is _UNPARSED:
            result = compiled.apply_bytes(body, max_cost)
        else:
            result = compiled.apply(value, max_cost)
        body = result.body
        headers.update(result.headers)
    return Shaped(body, headers)


def batch_body(events: Sequence[tuple[str, str, bytes]]) -> bytes:
    """One JSON array of ``{"id", "eventType", "payload"}`` for (message id, type, body).

    Bodies are spliced in as they are (not re-serialised); a body that is not JSON
    (a form-encoded inbound event) goes in as a string.
    """
    parts = []
    for msg_id, event_type, body in events:
        try:
            orjson.loads(body)
            payload = body
        except orjson.JSONDecodeError:
            payload = orjson.dumps(body.decode("utf-8", "replace"))
        head = orjson.dumps({"id": msg_id, "eventType": event_type})[:-1]
        parts.append(head + b',"payload":' + payload + b"}")
    return b"[" + b",".join(parts) + b"]"
