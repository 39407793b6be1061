"""Operational webhooks: the events hookline sends the operator about itself (Svix's names).

They are ordinary messages of one reserved application, whose endpoints the operator
registers through ``/api/v1/operational-webhook/endpoint``; so they are signed,
retried, logged and replayable like every other webhook. Pure logic: which event a
change or an outcome makes, and its payload.
"""

from __future__ import annotations

from typing import Any

from hookline.domain.audit import AuditEntry

#: The reserved application holding the operational webhook endpoints and events.
#: It is hidden from the application API.
APP_ID = "app_" + "0" * 16 + "operational"

ENDPOINT_CREATED = "endpoint.created"
ENDPOINT_UPDATED = "endpoint.updated"
ENDPOINT_DELETED = "endpoint.deleted"
ENDPOINT_DISABLED = "endpoint.disabled"
ENDPOINT_ENABLED = "endpoint.enabled"
ATTEMPT_FAILING = "message.attempt.failing"
ATTEMPT_EXHAUSTED = "message.attempt.exhausted"
ATTEMPT_RECOVERED = "message.attempt.recovered"

EVENT_TYPES = (
    ENDPOINT_CREATED, ENDPOINT_UPDATED, ENDPOINT_DELETED, ENDPOINT_DISABLED, ENDPOINT_ENABLED,
    ATTEMPT_FAILING, ATTEMPT_EXHAUSTED, ATTEMPT_RECOVERED,
)  # fmt: skip

#: As Svix: ``message.attempt.failing`` goes out on a delivery's fourth failure, and
#: ``message.attempt.recovered`` on a success after it.
FAILING_AT_ATTEMPT = 4

#: Audited endpoint changes and the operational event each one makes.
_BY_AUDIT_ACTION = {
    "endpoint.created": ENDPOINT_CREATED,
    "endpoint.updated": ENDPOINT_UPDATED,
    "endpoint.headers.updated": ENDPOINT_UPDATED,
    "endpoint.secret.rotated": ENDPOINT_UPDATED,
    "endpoint.paused": ENDPOINT_UPDATED,
    "endpoint.resumed": ENDPOINT_UPDATED,
    "endpoint.deleted": ENDPOINT_DELETED,
    "endpoint.disabled": ENDPOINT_DISABLED,
    "endpoint.enabled": ENDPOINT_ENABLED,
}


def event_type_of(entry: AuditEntry) -> str | None:
    """The operational event an audited change makes (None for most changes)."""
    if entry.resource_type != "endpoint" or entry.app_id == APP_ID:
        return None
    return _BY_AUDIT_ACTION.get(entry.action)


def endpoint_event(entry: AuditEntry, event_type: str, app_uid: str | None) -> dict[str, Any]:
    """The payload of an endpoint event, from the audited change."""
    record = entry.after or entry.before or {}
    data: dict[str, Any] = {
        "appId": entry.app_id,
        "appUid": app_uid,
        "endpointId": entry.resource_id,
        "endpointUid": record.get("uid"),
    }
    if event_type == ENDPOINT_DISABLED:
        data["failSince"] = None
        data["trigger"] = "manual"
    return {"type": event_type, "data": data}


def endpoint_disabled_automatically(
    app_id: str, app_uid: str | None, endpoint_id: str, endpoint_uid: str | None,
    fail_since: str | None,
) -> dict[str, Any]:  # fmt: skip
    """``endpoint.disabled`` when the worker turned an endpoint off (410, or failing too long)."""
    return {
        "type": ENDPOINT_DISABLED,
        "data": {
            "appId": app_id, "appUid": app_uid, "endpointId": endpoint_id,
            "endpointUid": endpoint_uid, "failSince": fail_since, "trigger": "automatic",
        },
    }  # fmt: skip


def attempt_event_type(attempt_number: int, succeeded: bool, final: bool) -> str | None:
    """Which attempt event (if any) an outcome makes: failing on the fourth failure,
    exhausted on the last, recovered on a success after failing was sent."""
    if succeeded:
        return ATTEMPT_RECOVERED if attempt_number > FAILING_AT_ATTEMPT else None
    if final:
        return ATTEMPT_EXHAUSTED
    return ATTEMPT_FAILING if attempt_number == FAILING_AT_ATTEMPT else None


def attempt_event(
    event_type: str, app_id: str, app_uid: str | None, msg_id: str, msg_event_id: str | None,
    endpoint_id: str, attempt_id: str, status_code: int, timestamp: str,
) -> dict[str, Any]:  # fmt: skip
    """The payload of a ``message.attempt.*`` event."""
    return {
        "type": event_type,
        "data": {
            "appId": app_id, "appUid": app_uid, "msgId": msg_id, "msgEventId": msg_event_id,
            "endpointId": endpoint_id,
            "lastAttempt": {
                "id": attempt_id, "responseStatusCode": status_code, "timestamp": timestamp,
            },
        },
    }  # fmt: skip
