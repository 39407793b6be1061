"""Publishing: check a message, store it and fan it out; the same for the API's route,
its fast path and the portal's test events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from hookline import tracing
from hookline.domain import ids
from hookline.domain.controls import NORMAL_PRIORITY
from hookline.domain.models import Message
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError, TooLargeError, ValidationError
from hookline.metrics import METRICS
from hookline.storage.base import PublishResult, Storage
from hookline.usecases.applications import ApplicationDraft, application_or_create
from hookline.usecases.event_types import EventTypeCache, check_payload

logger = logging.getLogger(__name__)

#: How a message is stored and fanned out: the storage's ``publish``, or a batcher's
#: ``submit`` that gathers concurrent publishes into one storage call.
Submit = Callable[[Message], Awaitable[PublishResult]]


@dataclass(frozen=True, slots=True)
class PublishLimits:
    """The settings a publish obeys (read once at the edge)."""

    max_payload_bytes: int
    retention_days: float
    log_payloads: bool = False


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A message as given: ``application`` is created if the one named does not exist."""

    event_type: str
    payload: dict[str, Any]
    event_id: str | None = None
    channels: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    priority: int = NORMAL_PRIORITY
    retention_days: int | None = None
    application: ApplicationDraft | None = None


def encode_payload(payload: Any, field: str = "payload") -> bytes:
    """The payload as the JSON bytes that are stored, signed and sent; JSON that hookline
    cannot keep exactly is refused (422)."""
    try:
        return orjson.dumps(payload)
    except (TypeError, orjson.JSONEncodeError) as error:
        # orjson keeps integers exact only within 64 bits; a bigger one would change.
        raise ValidationError(f"cannot be stored as JSON: {error}", field=(field,)) from None


async def publish(
    storage: Storage, submit: Submit, event_types: EventTypeCache, limits: PublishLimits,
    who: Principal, app_key: str, draft: MessageDraft, now: float, *, face: str = "api",
) -> Message:  # fmt: skip
    """Check, store and fan out one message to the application ``app_key`` (id or uid).

    Nothing is stored when a check fails: 413 over ``max_payload_bytes`` (as Svix), 422
    for a payload its event type's enforced schema refuses. ``face`` labels the metric.
    """
    payload = encode_payload(draft.payload)
    if len(payload) > limits.max_payload_bytes:
        raise TooLargeError(
            f"payload is {len(payload)} bytes; the limit is {limits.max_payload_bytes}"
        )
    await check_payload(event_types, draft.event_type, draft.payload)
    msg_id = ids.new_id(ids.MESSAGE, now)
    retention = 86400 * (draft.retention_days or limits.retention_days)
    traced = {"hookline.msg_id": msg_id, "hookline.event_type": draft.event_type}
    with tracing.publish_span(traced) as trace_parent:
        # The application is looked up in the publish's own transaction (by id or uid).
        message = Message(
            id=msg_id, app_id=app_key, event_type=draft.event_type, payload=payload,
            event_id=draft.event_id, channels=draft.channels, tags=draft.tags, created_at=now,
            priority=draft.priority, expires_at=now + retention, trace_parent=trace_parent,
        )  # fmt: skip
        try:
            result = await submit(message)
        except NotFoundError:
            if draft.application is None:
                raise
            # Svix's get-or-create: the message carries the application to create.
            app = await application_or_create(storage, who, app_key, draft.application, now)
            result = await storage.publish(replace(message, app_id=app.id))
        tracing.annotate({"hookline.app_id": result.message.app_id})
    METRICS.published.labels(face).inc()
    if limits.log_payloads:
        # Payloads are customer data: logged only when the operator asks for it.
        logger.info(
            "message published",
            extra={"msg_id": message.id, "app_id": result.message.app_id,
                   "payload": payload.decode()},
        )  # fmt: skip
    return result.message
