"""Rows to records, by column name: one ``*_from_row`` per record the storage hands out.

A row is a sqlite3.Row or a psycopg dict_row (both read by name); the claim's rows
arrive as JSON objects, read the same way. Column names are the queries' own
(``queries/*.sql``), aliased where a query computes a value.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hookline.domain import pacing
from hookline.domain.audit import AuditEntry
from hookline.domain.circuit import Circuit, CircuitState
from hookline.domain.controls import Controls
from hookline.domain.destinations import Destination
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    BackgroundTask,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EventType,
    Message,
    Source,
    TriggerType,
)
from hookline.domain.secrets import SecretBox
from hookline.domain.tokens import ApiToken
from hookline.errors import SecretKeyError
from hookline.storage.records import ClaimedDelivery
from hookline.storage.sql._core import Row, as_tuple, dumps, loads
from hookline.storage.sql.sealing import (
    source_context,
    unseal_auth,
    unseal_destination,
    unseal_old_secrets,
    unseal_secret,
)


@functools.lru_cache(maxsize=4096)
def controls_of(stored: str | None) -> Controls:
    """An endpoint's controls from their stored JSON (parsed once per distinct text: fan-out
    and claims read them for every endpoint and delivery)."""
    return Controls.from_json(loads(stored))


@functools.lru_cache(maxsize=1024)
def versioning_of(stored: str | None) -> dict[str, Any] | None:
    """An event type's versioning, parsed once per distinct text (read with every claim).

    Shared between deliveries: read only.
    """
    versioning: dict[str, Any] | None = loads(stored)
    return versioning


@functools.lru_cache(maxsize=4096)
def filter_text_of(stored: str | None) -> str | None:
    """The payload filter's own JSON text (the key its compiled form is cached under)."""
    found = controls_of(stored).filter
    return None if found is None else dumps(found)


def application_from_row(row: Row) -> Application:
    return Application(
        id=row["id"], uid=row["uid"], name=row["name"], rate_limit=row["rate_limit"],
        metadata=loads(row["metadata"]), created_at=row["created_at"],
        updated_at=row["updated_at"],
    )  # fmt: skip


def event_type_from_row(row: Row) -> EventType:
    versioning = loads(row["versioning"]) or {}
    return EventType(
        name=row["name"], description=row["description"], archived=bool(row["archived"]),
        deprecated=bool(row["deprecated"]), schemas=loads(row["schemas"]),
        feature_flags=as_tuple(row["feature_flags"]), group_name=row["group_name"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        transformations=versioning.get("transformations"),
        enforce_schema=bool(versioning.get("enforce_schema")),
    )  # fmt: skip


def endpoint_from_row(row: Row, box: SecretBox) -> Endpoint:
    endpoint_id = row["id"]
    return Endpoint(
        id=endpoint_id, app_id=row["app_id"], uid=row["uid"], url=row["url"],
        description=row["description"], version=row["version"], disabled=bool(row["disabled"]),
        filter_types=as_tuple(row["filter_types"]), channels=as_tuple(row["channels"]),
        headers=loads(row["headers"]), metadata=loads(row["metadata"]),
        rate_limit=row["rate_limit"], retry_schedule=as_tuple(row["retry_schedule"]),
        secret=unseal_secret(box, endpoint_id, row["secret"]),
        old_secrets=unseal_old_secrets(box, endpoint_id, row["old_secrets"]),
        failing_since=row["failing_since"], created_at=row["created_at"],
        updated_at=row["updated_at"], controls=Controls.from_json(loads(row["controls"])),
        paused=bool(row["paused"]), auth=unseal_auth(box, endpoint_id, row["auth"]),
        destination=unseal_destination(
            box, endpoint_id, row["destination_kind"], row["destination_config"]
        ),
    )  # fmt: skip


def message_from_row(row: Row) -> Message:
    return Message(
        id=row["id"], app_id=row["app_id"], event_type=row["event_type"],
        event_id=row["event_id"], payload=bytes(row["payload"]),
        channels=as_tuple(row["channels"]), tags=as_tuple(row["tags"]),
        created_at=row["created_at"], priority=row["priority"],
    )  # fmt: skip


def delivery_from_row(row: Row) -> Delivery:
    return Delivery(
        id=row["id"], msg_id=row["msg_id"], endpoint_id=row["endpoint_id"],
        app_id=row["app_id"], status=DeliveryStatus(row["status"]), attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], created_at=row["created_at"],
        updated_at=row["updated_at"],
    )  # fmt: skip


def attempt_from_row(row: Row) -> Attempt:
    request_headers = row["request_headers"]
    return Attempt(
        id=row["id"], delivery_id=row["delivery_id"], msg_id=row["msg_id"],
        endpoint_id=row["endpoint_id"], app_id=row["app_id"], url=row["url"],
        status=AttemptStatus(row["status"]), response_status_code=row["response_status_code"],
        response=row["response"], response_headers=loads(row["response_headers"]),
        duration_ms=row["duration_ms"], error_class=row["error_class"],
        trigger_type=TriggerType(row["trigger_type"]), created_at=row["created_at"],
        request_headers=loads(request_headers) if request_headers else {},
        request_body=row["request_body"],
    )  # fmt: skip


def circuit_from_row(row: Row) -> Circuit:
    """A circuit from its stored columns (circuit, circuit_since ... window_failed)."""
    return Circuit(
        state=CircuitState(row["circuit"] or "closed"), since=row["circuit_since"],
        probe_at=row["probe_at"], probe_id=row["probe_id"], cooldown=row["cooldown"],
        window_start=row["window_start"] or 0.0, window_total=row["window_total"] or 0,
        window_failed=row["window_failed"] or 0,
    )  # fmt: skip


def pace_from_row(row: Row) -> pacing.Pace:
    """An endpoint's pace from its state columns (tat, throttled_at, throttled_rate)."""
    return pacing.Pace(
        tat=row["tat"] or 0.0, throttled_at=row["throttled_at"],
        throttled_rate=row["throttled_rate"],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EndpointGate:
    """What a claim needs of a candidate's endpoint to gate and pace it (endpoint_controls)."""

    id: str
    rate_limit: int | None
    paused: bool
    controls: Controls
    pace: pacing.Pace
    circuit: Circuit

    @classmethod
    def from_row(cls, row: Row) -> EndpointGate:
        return cls(
            id=row["id"], rate_limit=row["rate_limit"], paused=bool(row["paused"]),
            controls=controls_of(row["controls"]), pace=pace_from_row(row),
            circuit=Circuit(
                state=CircuitState(row["circuit"] or "closed"), probe_id=row["probe_id"]
            ),
        )  # fmt: skip

    @property
    def paced(self) -> bool:
        """Whether a claim must pace the endpoint: a rate, a 429 slow-down or an in-flight cap."""
        return (
            self.rate_limit is not None
            or self.pace.throttled_rate is not None
            or self.controls.max_in_flight is not None
        )


def task_from_row(row: Row) -> BackgroundTask:
    return BackgroundTask(
        id=row["id"], app_id=row["app_id"], task=row["task"], status=row["status"],
        data=loads(row["data"]), created_at=row["created_at"], updated_at=row["updated_at"],
    )  # fmt: skip


def token_from_row(row: Row) -> ApiToken:
    return ApiToken(
        id=row["id"], name=row["name"], token_hash=row["token_hash"], prefix=row["prefix"],
        app_id=row["app_id"], read_only=bool(row["read_only"]), session_id=row["session_id"],
        created_by=row["created_by"], created_at=row["created_at"],
        expires_at=row["expires_at"], revoked_at=row["revoked_at"],
    )  # fmt: skip


def audit_from_row(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"], app_id=row["app_id"], actor=row["actor"], action=row["action"],
        resource_type=row["resource_type"], resource_id=row["resource_id"],
        before=loads(row["before_state"]), after=loads(row["after_state"]),
        created_at=row["created_at"],
    )  # fmt: skip


def source_from_row(row: Row, box: SecretBox) -> Source:
    source_id = row["id"]
    secrets = loads(box.unseal(row["secrets"], source_context(source_id, "secrets")))
    return Source(
        id=source_id, app_id=row["app_id"], uid=row["uid"], name=row["name"],
        token=box.unseal(row["token"], source_context(source_id, "token")),
        verifier=row["verifier"], config=loads(row["config"]), secrets=tuple(secrets),
        dedup_window=row["dedup_window"], forward_headers=bool(row["forward_headers"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
        allowed_networks=tuple(loads(row["allowed_networks"])), rate_limit=row["rate_limit"],
    )  # fmt: skip


def claimed_from_row(
    row: Mapping[str, Any], box: SecretBox, send_at: Mapping[str, float]
) -> ClaimedDelivery:
    """A leased delivery from one object of ``claim_details``' JSON answer."""
    endpoint_id = row["endpoint_id"]
    # The payload travels as text inside the JSON answer; its UTF-8 bytes are the
    # stored bytes exactly (payloads are JSON, so always valid UTF-8).
    payload = row["payload"]
    payload = payload.encode() if isinstance(payload, str) else bytes(payload)
    # Unsealing on every claim is cheap: the box caches what it has decrypted. A secret
    # that does not unseal (a lost key, an altered row) spoils only its own delivery:
    # it is claimed with the problem, never sent, and retried on its schedule.
    problem = auth = destination = None
    try:
        secret = unseal_secret(box, endpoint_id, row["secret"])
        old_secrets = unseal_old_secrets(box, endpoint_id, row["old_secrets"])
        auth = unseal_auth(box, endpoint_id, row["auth"])
        destination = unseal_destination(
            box, endpoint_id, row["destination_kind"], row["destination_config"]
        )
    except SecretKeyError as error:
        secret, old_secrets, problem = "", (), error.detail
        if row["destination_kind"] is not None:
            # Still a destination (never sent as HTTP), with nothing to connect with.
            destination = Destination(kind=row["destination_kind"])
    delivery_id = row["id"]
    return ClaimedDelivery(
        id=delivery_id, msg_id=row["msg_id"], endpoint_id=endpoint_id, app_id=row["app_id"],
        attempts=row["attempts"], manual=bool(row["manual"]), event_type=row["event_type"],
        payload=payload, url=row["url"], endpoint_disabled=bool(row["disabled"]),
        headers=loads(row["headers"]), secret=secret, old_secrets=old_secrets,
        retry_schedule=as_tuple(row["retry_schedule"]), failing_since=row["failing_since"],
        message_headers=loads(row["message_headers"]), problem=problem,
        version=row["version"], controls=controls_of(row["controls"]),
        versioning=versioning_of(row["versioning"]), order_key=row["order_key"],
        send_at=send_at.get(delivery_id), rate_limit=row["rate_limit"],
        trace_parent=row["trace_parent"], auth=auth, destination=destination,
    )  # fmt: skip
