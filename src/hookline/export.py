"""Export an application's messages and attempts as JSON lines (``hookline export``).

One JSON object per line, oldest first, read a page at a time so any size exports
in bounded memory: ``{"kind": "message", ...}`` with the payload (as stored, or
``null`` once retention removed it), then ``{"kind": "attempt", ...}`` per attempt.
Times are ISO 8601 UTC, field names as the API's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson

from hookline.domain.models import Attempt, Message
from hookline.storage.base import AttemptFilter, Cursor, MessageFilter, Storage

PAGE = 250


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def message_line(message: Message) -> dict[str, Any]:
    """A message as one export line."""
    try:
        payload: Any = orjson.loads(message.payload)
    except orjson.JSONDecodeError:
        payload = message.payload.decode("utf-8", "replace")  # a form-encoded inbound body
    return {
        "kind": "message", "id": message.id, "appId": message.app_id,
        "eventType": message.event_type, "eventId": message.event_id,
        "channels": list(message.channels or []), "tags": list(message.tags or []),
        "timestamp": _time(message.created_at), "payload": payload,
        "sourceId": message.source_id,
    }  # fmt: skip


def attempt_line(attempt: Attempt) -> dict[str, Any]:
    """An attempt as one export line."""
    return {
        "kind": "attempt", "id": attempt.id, "msgId": attempt.msg_id,
        "endpointId": attempt.endpoint_id, "url": attempt.url, "status": int(attempt.status),
        "responseStatusCode": attempt.response_status_code, "response": attempt.response,
        "responseHeaders": attempt.response_headers, "responseDurationMs": attempt.duration_ms,
        "errorClass": attempt.error_class, "triggerType": int(attempt.trigger_type),
        "timestamp": _time(attempt.created_at), "requestHeaders": attempt.request_headers,
        # null: the message's payload, as stored, was the body sent
        "requestBody": attempt.request_body,
    }  # fmt: skip


async def export_lines(
    storage: Storage, app_key: str, since: float, until: float, attempts: bool = True
) -> AsyncIterator[bytes]:
    """The application's messages made in [since, until) (and their attempts), a line each."""
    app = await storage.get_application(app_key)
    where = MessageFilter(since=since, until=until)
    cursor = Cursor(limit=PAGE, ascending=True)
    while True:
        page = await storage.list_messages(app.id, cursor, where)
        for message in page.data:
            yield orjson.dumps(message_line(message)) + b"\n"
        if page.done:
            break
        cursor = Cursor(limit=PAGE, iterator=page.iterator, ascending=True)
    if not attempts:
        return
    cursor = Cursor(limit=PAGE, ascending=True)
    found = AttemptFilter(since=since, until=until)
    while True:
        attempt_page = await storage.list_attempts(app.id, cursor, found)
        for attempt in attempt_page.data:
            yield orjson.dumps(attempt_line(attempt)) + b"\n"
        if attempt_page.done:
            break
        cursor = Cursor(limit=PAGE, iterator=attempt_page.iterator, ascending=True)
