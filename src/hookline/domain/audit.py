"""The audit trail: who changed what, when, and how it looked before and after.

Snapshots are plain JSON objects with every secret masked: signing secrets,
token digests and endpoint header values (which often carry credentials for
the receiver) appear only as a short fingerprint, so an operator can see *that*
a secret changed, never *what* it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from hookline.domain import ids
from hookline.domain.destinations import masked_config
from hookline.domain.jobs import JobParams
from hookline.domain.models import Application, Endpoint, EventType, JSONObject, Source
from hookline.domain.tokens import ApiToken, Principal

#: The records whose changes are audited.
Audited = Application | Endpoint | EventType | ApiToken | Source


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded change; ``app_id`` None marks a server-wide record (event types...)."""

    id: str
    app_id: str | None
    actor: str
    action: str
    resource_type: str
    resource_id: str
    before: JSONObject | None
    after: JSONObject | None
    created_at: float


def masked(secret: str) -> str:
    """A secret as a fingerprint: enough to tell two secrets apart, nothing to use."""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:12]
    return f"<masked sha256:{digest}>"


def snapshot(record: Audited | None) -> JSONObject | None:
    """A record as JSON for the trail, secrets masked."""
    if record is None:
        return None
    data: dict[str, Any] = asdict(record)
    if isinstance(record, Endpoint):
        data["secret"] = masked(record.secret)
        data["old_secrets"] = [
            {"secret": masked(key.secret), "expires_at": key.expires_at}
            for key in record.old_secrets
        ]
        data["headers"] = {name: masked(value) for name, value in record.headers.items()}
        data["auth"] = None if record.auth is None else record.auth.masked_json(masked)
        if record.destination is not None:
            kind = record.destination.kind
            data["destination"] = {
                "kind": kind,
                "config": masked_config(kind, record.destination.config),
            }
    if isinstance(record, ApiToken):
        del data["token_hash"]
    if isinstance(record, Source):
        data["token"] = masked(record.token)
        data["secrets"] = [masked(secret) for secret in record.secrets]
    return data


_RESOURCE_TYPES = {Application: "application", Endpoint: "endpoint", EventType: "event_type",
                   ApiToken: "token", Source: "source"}  # fmt: skip


def change(
    who: Principal,
    action: str,
    before: Audited | None,
    after: Audited | None,
    now: float,
) -> AuditEntry:
    """The entry for ``who`` turning ``before`` into ``after`` (either may be None).

    ``action`` is what happened in Svix's dotted style, e.g. ``endpoint.updated``.
    """
    record = after if after is not None else before
    assert record is not None, "a change needs a before or an after"
    app_id = record.id if isinstance(record, Application) else getattr(record, "app_id", None)
    resource_id = record.name if isinstance(record, EventType) else record.id
    return AuditEntry(
        id=ids.new_id(ids.AUDIT, now), app_id=app_id, actor=who.token_id, action=action,
        resource_type=_RESOURCE_TYPES[type(record)], resource_id=resource_id,
        before=snapshot(before), after=snapshot(after), created_at=now,
    )  # fmt: skip


def action(
    who: Principal,
    name: str,
    app_id: str | None,
    resource: tuple[str, str],
    details: JSONObject,
    now: float,
) -> AuditEntry:
    """An entry for an action on many records at once (e.g. expiring tokens), not one record."""
    resource_type, resource_id = resource
    return AuditEntry(
        id=ids.new_id(ids.AUDIT, now), app_id=app_id, actor=who.token_id, action=name,
        resource_type=resource_type, resource_id=resource_id, before=None, after=details,
        created_at=now,
    )  # fmt: skip


def resent(who: Principal, app_id: str, msg_key: str, now: float) -> AuditEntry:
    """The entry of a message sent again by hand (a retry or a resend); the storage
    writes it with the message's id and the endpoint's, as found."""
    return action(who, "message.resent", app_id, ("message", msg_key), {}, now)


def job_started(
    who: Principal, app_id: str, kind: str, params: JobParams, now: float
) -> AuditEntry:
    """The entry of a recover, replay-missing or bulk replay asked for (``kind``, one of
    ``jobs.KINDS``); the storage adds the task's id."""
    return action(who, kind, app_id, ("endpoint", params.endpoint_id), params.to_json(), now)
