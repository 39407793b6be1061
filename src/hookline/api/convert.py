"""Domain records to API bodies."""

from __future__ import annotations

from typing import Any

import orjson

from hookline.api.schemas import (
    ApiTokenOut,
    ApplicationOut,
    AuditEntryOut,
    BackgroundTaskOut,
    BatchingIn,
    CircuitBreakerIn,
    CircuitOut,
    DeliveryStateOut,
    EndpointMessageOut,
    EndpointOut,
    EventTypeOut,
    MessageAttemptOut,
    MessageOut,
    OrderingIn,
    utc,
)
from hookline.api.schemas.endpoint_auth import auth_out
from hookline.domain.audit import AuditEntry
from hookline.domain.controls import PRIORITY_NAMES, Controls
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    BackgroundTask,
    Endpoint,
    EndpointMessage,
    EventType,
    Message,
)
from hookline.domain.tokens import ApiToken
from hookline.storage.base import DeliveryState

STATUS_TEXT = {
    AttemptStatus.SUCCESS: "success",
    AttemptStatus.PENDING: "pending",
    AttemptStatus.FAIL: "fail",
    AttemptStatus.SENDING: "sending",
}


def application_out(app: Application) -> ApplicationOut:
    """An application as the API shows it."""
    return ApplicationOut(
        id=app.id, name=app.name, uid=app.uid, throttle_rate=app.rate_limit,
        rate_limit=app.rate_limit, metadata=app.metadata,
        created_at=utc(app.created_at), updated_at=utc(app.updated_at),
    )  # fmt: skip


def event_type_out(event_type: EventType, with_content: bool = True) -> EventTypeOut:
    """An event type; schemas only when asked for."""
    flags = list(event_type.feature_flags) if event_type.feature_flags else None
    return EventTypeOut(
        name=event_type.name, description=event_type.description,
        archived=event_type.archived, deprecated=event_type.deprecated,
        schemas=event_type.schemas if with_content else None,
        feature_flag=flags[0] if flags else None, feature_flags=flags,
        group_name=event_type.group_name,
        created_at=utc(event_type.created_at), updated_at=utc(event_type.updated_at),
        transformations=event_type.transformations, enforce_schema=event_type.enforce_schema,
    )  # fmt: skip


def endpoint_out(ep: Endpoint) -> EndpointOut:
    """An endpoint, under both its current and its older Svix field names."""
    types = list(ep.filter_types) if ep.filter_types is not None else None
    return EndpointOut(
        id=ep.id, url=ep.url, description=ep.description, uid=ep.uid, version=ep.version,
        disabled=ep.disabled, event_types=types, filter_types=types,
        channels=list(ep.channels) if ep.channels is not None else None,
        metadata=ep.metadata, throttle_rate=ep.rate_limit, rate_limit=ep.rate_limit,
        retry_schedule=list(ep.retry_schedule) if ep.retry_schedule is not None else None,
        created_at=utc(ep.created_at), updated_at=utc(ep.updated_at), paused=ep.paused,
        **_controls_out(ep.controls), **auth_out(ep.auth),
    )  # fmt: skip


def _controls_out(controls: Controls) -> dict[str, Any]:
    batching = controls.batching
    breaker = controls.breaker
    return {
        "filter": controls.filter,
        "transformation": controls.transformation,
        "batching": None if batching is None else BatchingIn(
            max_size=batching.max_size, max_wait_ms=round(batching.max_wait * 1000)
        ),
        "ordering": None if controls.ordering is None else OrderingIn(key=controls.ordering.key),
        "circuit_breaker": None if breaker is None else CircuitBreakerIn(
            failure_rate=breaker.failure_rate, minimum_attempts=breaker.minimum_attempts,
            window_seconds=breaker.window, cooldown_seconds=breaker.cooldown,
            max_cooldown_seconds=breaker.max_cooldown,
        ),
        "max_in_flight": controls.max_in_flight,
    }  # fmt: skip


def delivery_state_out(state: DeliveryState) -> DeliveryStateOut:
    """An endpoint's pause, circuit and pace."""
    circuit = state.circuit
    return DeliveryStateOut(
        paused=state.paused,
        circuit=CircuitOut(
            state=str(circuit.state), since=_maybe_utc(circuit.since),
            next_probe_at=_maybe_utc(circuit.probe_at) if circuit.state == "open" else None,
            cooldown_seconds=circuit.cooldown, window_attempts=circuit.window_total,
            window_failures=circuit.window_failed,
        ),
        throttle_rate=state.rate_limit, effective_rate=state.effective_rate,
        throttled_at=_maybe_utc(state.throttled_at), next_slot_at=_maybe_utc(state.next_slot_at),
        waiting=state.waiting, queued=state.queued, in_flight=state.in_flight,
    )  # fmt: skip


def task_out(task: BackgroundTask) -> BackgroundTaskOut:
    """A background task."""
    return BackgroundTaskOut(
        id=task.id, status=task.status, task=task.task, data=task.data,
        updated_at=utc(task.updated_at),
    )  # fmt: skip


def payload_of(message: Message) -> dict[str, Any]:
    """The stored payload bytes as a JSON object.

    A received (inbound) body need not be JSON (Twilio and Slack commands post
    forms): it is shown as text under ``body``.
    """
    try:
        value = orjson.loads(message.payload)
    except orjson.JSONDecodeError:
        return {"body": message.payload.decode("utf-8", errors="replace")}
    return value if isinstance(value, dict) else {"payload": value}


def message_out(message: Message, with_content: bool) -> MessageOut:
    """A message; its payload is ``{}`` unless ``with_content`` (as Svix)."""
    return MessageOut(
        id=message.id, event_type=message.event_type, event_id=message.event_id,
        payload=payload_of(message) if with_content else {},
        channels=list(message.channels) if message.channels is not None else None,
        tags=list(message.tags) if message.tags is not None else None,
        timestamp=utc(message.created_at), priority=PRIORITY_NAMES[message.priority],
    )  # fmt: skip


def endpoint_message_out(item: EndpointMessage, with_content: bool) -> EndpointMessageOut:
    """A message with its delivery status for one endpoint."""
    base = message_out(item.message, with_content)
    return EndpointMessageOut(
        **base.model_dump(), status=int(item.status), status_text=STATUS_TEXT[item.status],
        next_attempt=utc(item.next_attempt_at)
        if item.next_attempt_at is not None and item.status != AttemptStatus.SUCCESS
        else None,
    )  # fmt: skip


def attempt_out(
    attempt: Attempt, with_content: bool = True, message: Message | None = None
) -> MessageAttemptOut:
    """An attempt; its response body only when asked for."""
    return MessageAttemptOut(
        id=attempt.id, msg_id=attempt.msg_id, endpoint_id=attempt.endpoint_id, url=attempt.url,
        response=attempt.response if with_content else "",
        response_status_code=attempt.response_status_code,
        response_duration_ms=attempt.duration_ms,
        response_headers=attempt.response_headers if with_content else {},
        error_class=attempt.error_class, status=int(attempt.status),
        status_text=STATUS_TEXT[attempt.status], trigger_type=int(attempt.trigger_type),
        timestamp=utc(attempt.created_at),
        msg=message_out(message, with_content) if message is not None else None,
    )  # fmt: skip


def _maybe_utc(timestamp: float | None) -> Any:
    return None if timestamp is None else utc(timestamp)


def token_out(token: ApiToken) -> ApiTokenOut:
    """A token as lists show it (without the token)."""
    return ApiTokenOut(
        id=token.id, name=token.name, prefix=token.prefix, app_id=token.app_id,
        read_only=token.read_only, created_by=token.created_by, created_at=utc(token.created_at),
        expires_at=_maybe_utc(token.expires_at), revoked_at=_maybe_utc(token.revoked_at),
    )  # fmt: skip


def audit_out(entry: AuditEntry) -> AuditEntryOut:
    """An audit entry as the API shows it."""
    return AuditEntryOut(
        id=entry.id, app_id=entry.app_id, actor=entry.actor, action=entry.action,
        resource_type=entry.resource_type, resource_id=entry.resource_id, before=entry.before,
        after=entry.after, timestamp=utc(entry.created_at),
    )  # fmt: skip
