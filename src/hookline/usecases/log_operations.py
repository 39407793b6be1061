"""Svix's smaller operations on an application's log: send an endpoint an example event,
ask whether a message would reach anyone, remove payloads (some, or all of them as a
background task), and the usage tasks over every application."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hookline.catalogue import example
from hookline.domain import ids, jobs
from hookline.domain.audit import action
from hookline.domain.models import BackgroundTask, Endpoint, EventType, Message
from hookline.domain.routing import route
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError, TooLargeError, ValidationError
from hookline.storage.base import Cursor, Storage
from hookline.usecases.event_types import EventTypeCache, check_payload
from hookline.usecases.messages import PublishLimits, encode_payload
from hookline.usecases.replays import window

#: Endpoints read per page while prechecking.
PAGE = 250


def example_payload(event_type: EventType, index: int) -> dict[str, Any]:
    """The example of the event type's latest schema: its ``examples[index]`` if it lists
    examples, else one made from the schema (``catalogue.example``)."""
    version = event_type.latest_version
    schema = None if version is None else (event_type.schemas or {}).get(str(version))
    if not isinstance(schema, dict):
        raise ValidationError(
            f"event type {event_type.name!r} has no schema to take an example from; "
            "give the payload",
            field=("eventType",),
        )
    listed = schema.get("examples")
    if isinstance(listed, list) and listed:
        if index >= len(listed):
            raise ValidationError(
                f"the schema lists {len(listed)} examples; exampleIndex is 0 to {len(listed) - 1}",
                field=("exampleIndex",),
            )
        chosen = listed[index]
    else:
        chosen = example(schema)
    if not isinstance(chosen, dict):
        raise ValidationError(
            f"the example of {event_type.name!r} is not a JSON object; give the payload",
            field=("eventType",),
        )
    return chosen


async def send_example(
    storage: Storage, event_types: EventTypeCache, limits: PublishLimits, endpoint: Endpoint,
    event_type_name: str, example_index: int, payload: dict[str, Any] | None, now: float,
) -> Message:  # fmt: skip
    """Publish an example event of ``event_type_name`` to ``endpoint`` alone (whatever its
    event types): the payload given, or the type's example. Checked as a publish is."""
    event_type = await event_types.get(event_type_name)
    if event_type is None:
        raise NotFoundError(f"event type {event_type_name!r} not found")
    body = payload if payload is not None else example_payload(event_type, example_index)
    encoded = encode_payload(body)
    if len(encoded) > limits.max_payload_bytes:
        raise TooLargeError(
            f"payload is {len(encoded)} bytes; the limit is {limits.max_payload_bytes}"
        )
    await check_payload(event_types, event_type.name, body)
    message = Message(
        id=ids.new_id(ids.MESSAGE, now), app_id=endpoint.app_id, event_type=event_type.name,
        payload=encoded, created_at=now, expires_at=now + 86400 * limits.retention_days,
    )  # fmt: skip
    result = await storage.publish_to_endpoint(message, endpoint.id)
    return result.message


async def precheck(
    storage: Storage, app_id: str, event_type: str, channels: Sequence[str] | None
) -> bool:
    """Whether an enabled endpoint of the application takes this event type and channels
    (payload filters are not judged: there is no payload yet)."""
    cursor = Cursor(limit=PAGE, ascending=True)
    while True:
        page = await storage.list_endpoints(app_id, cursor)
        if route([e for e in page.data if not e.disabled], event_type, channels):
            return True
        if page.done:
            return False
        cursor = Cursor(limit=PAGE, iterator=page.iterator, ascending=True)


async def purge_contents(
    storage: Storage, who: Principal, app_id: str, now: float
) -> BackgroundTask:
    """Start removing every payload of the application (``application.purge_content``)."""
    params = jobs.JobParams(endpoint_id="", since=0.0, until=now)
    entry = action(who, jobs.PURGE_CONTENT, app_id, ("application", app_id), {}, now)
    return await storage.start_job(app_id, jobs.PURGE_CONTENT, params, now, entry)


async def app_usage(
    storage: Storage, who: Principal, since: float, until: float, app_keys: Sequence[str] | None,
    now: float,
) -> tuple[BackgroundTask, list[str]]:  # fmt: skip
    """Start counting each application's message destinations of [since, until)
    (``application.stats``); the task, and the keys that named no application."""
    start, end = window(since, until, now)
    named: list[str] | None = None
    unresolved: list[str] = []
    if app_keys:
        named = []
        for key in dict.fromkeys(app_keys):
            try:
                named.append((await storage.get_application(key)).id)
            except NotFoundError:
                unresolved.append(key)
        if not named:
            raise ValidationError("none of appIds names an application", field=("appIds",))
    params = jobs.JobParams(
        endpoint_id="", since=start, until=end,
        extra={} if named is None else {"app_ids": sorted(set(named))},
    )  # fmt: skip
    entry = action(who, jobs.APP_STATS, None, ("application", "*"), params.to_json(), now)
    return await storage.start_job(None, jobs.APP_STATS, params, now, entry), unresolved


async def aggregate_event_types(storage: Storage, who: Principal, now: float) -> BackgroundTask:
    """Start listing, per application, the event types its endpoints subscribe to
    (``event-type.aggregate``)."""
    params = jobs.JobParams(endpoint_id="", since=0.0, until=now)
    entry = action(who, jobs.EVENT_TYPE_AGGREGATE, None, ("event_type", "*"), {}, now)
    return await storage.start_job(None, jobs.EVENT_TYPE_AGGREGATE, params, now, entry)
