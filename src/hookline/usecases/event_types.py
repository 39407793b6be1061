"""Event types: created, replaced, patched, archived; their versions checked on save
(schemas and per-version transformations) and payloads checked on publish."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hookline.domain import audit
from hookline.domain.models import EventType
from hookline.domain.payload_schema import check_schema, validate
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError, ValidationError
from hookline.storage.base import Storage
from hookline.usecases.controls import checked_transformation

_MAX_CACHED = 10_000
#: What a name or uid taken from a path may be (as the API's body models say).
NAME_PATTERN = r"^[a-zA-Z0-9\-_.]+$"


def check_name(value: str, field: str) -> str:
    """Refuse a name or uid taken from a path that breaks the id rules."""
    if not 1 <= len(value) <= 256 or not re.fullmatch(NAME_PATTERN, value):
        raise ValidationError(
            "must be 1-256 characters of letters, digits, '-', '_' or '.'", field=("path", field)
        )
    return value


def check_versioning(
    schemas: dict[str, Any] | None,
    transformations: dict[str, dict[str, Any]] | None,
    enforce_schema: bool,
) -> None:
    """Schemas must be valid JSON Schemas keyed by version numbers; each transformation
    must compile and name a version older than the latest; enforcing needs a schema."""
    for version, schema in (schemas or {}).items():
        if not version.isdigit():
            raise ValidationError("schema versions are numbers", field=("schemas", version))
        fault = check_schema(schema)
        if fault is not None:
            raise ValidationError(
                f"not a valid JSON Schema: {fault.message}",
                field=("schemas", version, *fault.path),
            )
    latest = max((int(v) for v in schemas or {}), default=None)
    for version, document in (transformations or {}).items():
        if not version.isdigit():
            raise ValidationError("versions are numbers", field=("transformations", version))
        if latest is None or int(version) >= latest:
            raise ValidationError(
                "a transformation turns the latest version's payload into an older version's;"
                f" version {version} is not older than the latest schema ({latest})",
                field=("transformations", version),
            )
        checked_transformation(document, ("transformations", version))
    if enforce_schema and latest is None:
        raise ValidationError("enforcing needs a schema to enforce", field=("enforceSchema",))


class EventTypeCache:
    """Event types by name, trusted for ``ttl`` seconds (publishing reads one each time)."""

    def __init__(
        self, storage: Storage, ttl: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self.monotonic = monotonic
        self._cached: dict[str, tuple[EventType | None, float]] = {}

    async def get(self, name: str) -> EventType | None:
        """The event type, or None if there is none of that name."""
        now = self.monotonic()
        cached = self._cached.get(name)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        try:
            event_type: EventType | None = await self.storage.get_event_type(name)
        except NotFoundError:
            event_type = None
        if len(self._cached) >= _MAX_CACHED:
            self._cached.clear()
        self._cached[name] = (event_type, now)
        return event_type

    def forget(self, name: str) -> None:
        """Drop an event type changed through this process."""
        self._cached.pop(name, None)


async def check_payload(cache: EventTypeCache, event_type: str, payload: dict[str, Any]) -> None:
    """If the event type enforces its schema, the payload must conform (422 at the path)."""
    found = await cache.get(event_type)
    if found is None or not found.enforce_schema or found.latest_version is None:
        return
    schema = (found.schemas or {}).get(str(found.latest_version))
    if schema is None:
        return
    fault = validate(schema, payload)
    if fault is not None:
        raise ValidationError(
            f"payload does not match the schema of {event_type!r} version"
            f" {found.latest_version}: {fault.message}",
            field=("payload", *fault.path),
        )


async def create_event_type(
    storage: Storage, cache: EventTypeCache, who: Principal, record: EventType, now: float
) -> EventType:
    """Create ``record``; an archived one of that name comes back with the new definition
    (as Svix); a live one of that name is a ``ConflictError``."""
    check_versioning(record.schemas, record.transformations, record.enforce_schema)
    cache.forget(record.name)
    try:
        existing = await storage.get_event_type(record.name)
    except NotFoundError:
        entry = audit.change(who, "event_type.created", None, record, now)
        return await storage.create_event_type(record, entry)
    if existing.archived:
        revived = replace(record, created_at=existing.created_at)
        entry = audit.change(who, "event_type.updated", existing, revived, now)
        return await storage.update_event_type(revived, entry)
    # Taken and live: the store raises the conflict, the same as a concurrent create.
    return await storage.create_event_type(record)


async def put_event_type(
    storage: Storage, cache: EventTypeCache, who: Principal, name: str, fields: dict[str, Any],
    now: float,
) -> tuple[EventType, bool]:  # fmt: skip
    """Replace the event type ``name`` with ``fields``, or create it: (it, whether created)."""
    check_versioning(fields.get("schemas"), fields.get("transformations"),
                     bool(fields.get("enforce_schema")))  # fmt: skip
    cache.forget(name)
    try:
        current = await storage.get_event_type(name)
    except NotFoundError:
        check_name(name, "event_type_name")
        created = EventType(name=name, created_at=now, updated_at=now, **fields)
        entry = audit.change(who, "event_type.created", None, created, now)
        return await storage.create_event_type(created, entry), True
    updated = replace(current, updated_at=now, **fields)
    entry = audit.change(who, "event_type.updated", current, updated, now)
    return await storage.update_event_type(updated, entry), False


async def patch_event_type(
    storage: Storage, cache: EventTypeCache, who: Principal, name: str, changes: dict[str, Any],
    now: float,
) -> EventType:  # fmt: skip
    """Change some fields of the event type ``name``; the result's versions are checked."""
    current = await storage.get_event_type(name)
    for flag in ("description", "archived", "deprecated", "enforce_schema"):
        if flag in changes and changes[flag] is None:
            del changes[flag]  # these cannot be null: an explicit null leaves them as they are
    updated = replace(current, updated_at=now, **changes)
    check_versioning(updated.schemas, updated.transformations, updated.enforce_schema)
    cache.forget(name)
    entry = audit.change(who, "event_type.updated", current, updated, now)
    return await storage.update_event_type(updated, entry)


async def delete_event_type(
    storage: Storage, cache: EventTypeCache, who: Principal, name: str, expunge: bool, now: float
) -> None:
    """Archive the event type ``name`` (it stays for history), or with ``expunge`` delete it."""
    current = await storage.get_event_type(name)
    cache.forget(name)
    if expunge:
        await storage.delete_event_type(
            current.name, audit.change(who, "event_type.deleted", current, None, now)
        )
        return
    archived = replace(current, archived=True, updated_at=now)
    await storage.update_event_type(
        archived, audit.change(who, "event_type.archived", current, archived, now)
    )
