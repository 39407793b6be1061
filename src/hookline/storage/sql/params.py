"""Records to query parameters: the other direction of ``rows.py``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Application, Attempt, Endpoint, EventType, Message, Source
from hookline.domain.secrets import SecretBox
from hookline.domain.tokens import ApiToken, hash_token
from hookline.storage.sql._core import dumps
from hookline.storage.sql.sealing import (
    seal_auth,
    seal_destination,
    seal_secrets,
    source_context,
)


def application_params(app: Application) -> dict[str, Any]:
    return {
        "id": app.id, "uid": app.uid, "name": app.name, "rate_limit": app.rate_limit,
        "metadata": dumps(app.metadata), "created_at": app.created_at, "updated_at": app.updated_at,
    }  # fmt: skip


def event_type_params(event_type: EventType) -> dict[str, Any]:
    # What delivery needs of versioning travels in one column, read with each claim.
    versioning = {
        "latest": event_type.latest_version,
        "transformations": event_type.transformations,
        "enforce_schema": event_type.enforce_schema,
    }
    return {
        "versioning": dumps(versioning),
        "name": event_type.name, "description": event_type.description,
        "archived": int(event_type.archived), "deprecated": int(event_type.deprecated),
        "schemas": dumps(event_type.schemas),
        "feature_flags": dumps(event_type.feature_flags),
        "group_name": event_type.group_name, "created_at": event_type.created_at,
        "updated_at": event_type.updated_at,
    }  # fmt: skip


def endpoint_params(ep: Endpoint, box: SecretBox) -> dict[str, Any]:
    secret, old_secrets = seal_secrets(box, ep.id, ep.secret, ep.old_secrets)
    destination_kind, destination_config = seal_destination(box, ep.id, ep.destination)
    return {
        "destination_kind": destination_kind, "destination_config": destination_config,
        "id": ep.id, "app_id": ep.app_id, "uid": ep.uid, "url": ep.url,
        "description": ep.description, "version": ep.version, "disabled": int(ep.disabled),
        "filter_types": dumps(ep.filter_types), "channels": dumps(ep.channels),
        "headers": dumps(ep.headers), "metadata": dumps(ep.metadata), "rate_limit": ep.rate_limit,
        "retry_schedule": dumps(ep.retry_schedule), "secret": secret, "old_secrets": old_secrets,
        "failing_since": ep.failing_since, "created_at": ep.created_at, "updated_at": ep.updated_at,
        "controls": dumps(ep.controls.to_json()), "paused": int(ep.paused),
        "auth": seal_auth(box, ep.id, ep.auth),
    }  # fmt: skip


def source_params(source: Source, box: SecretBox) -> dict[str, Any]:
    sealed_secrets = box.seal(
        dumps(list(source.secrets)) or "[]", source_context(source.id, "secrets")
    )
    return {
        "id": source.id, "app_id": source.app_id, "uid": source.uid, "name": source.name,
        "token_hash": hash_token(source.token),
        "token": box.seal(source.token, source_context(source.id, "token")),
        "verifier": source.verifier, "config": dumps(source.config), "secrets": sealed_secrets,
        "dedup_window": source.dedup_window, "forward_headers": int(source.forward_headers),
        "created_at": source.created_at, "updated_at": source.updated_at,
        "allowed_networks": dumps(list(source.allowed_networks)), "rate_limit": source.rate_limit,
    }  # fmt: skip


def message_params(message: Message) -> dict[str, Any]:
    return {
        "id": message.id, "app_id": message.app_id, "event_type": message.event_type,
        "event_id": message.event_id, "payload": message.payload,
        "channels": dumps(message.channels), "tags": dumps(message.tags),
        "created_at": message.created_at, "headers": dumps(message.headers),
        "source_id": message.source_id, "priority": message.priority,
        "expires_at": message.expires_at, "trace_parent": message.trace_parent,
    }  # fmt: skip


def token_params(token: ApiToken) -> dict[str, Any]:
    return {**asdict(token), "read_only": int(token.read_only)}


def audit_params(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "app_id": entry.app_id, "actor": entry.actor, "action": entry.action,
        "resource_type": entry.resource_type, "resource_id": entry.resource_id,
        "before_state": dumps(entry.before), "after_state": dumps(entry.after),
        "created_at": entry.created_at,
    }  # fmt: skip


def attempt_row(attempt: Attempt) -> list[Any]:
    """An attempt as one positional row of ``insert_attempts`` (a JSON array, in its
    column order: one statement inserts a batch's attempts)."""
    return [
        attempt.id, attempt.delivery_id, attempt.msg_id, attempt.endpoint_id, attempt.app_id,
        attempt.url, int(attempt.status), attempt.response_status_code, attempt.response,
        dumps(attempt.response_headers), attempt.duration_ms, attempt.error_class,
        int(attempt.trigger_type), attempt.created_at, dumps(attempt.request_headers),
        attempt.request_body,
    ]  # fmt: skip
