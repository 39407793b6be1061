"""Event type versions at the API's edge: checking schemas and per-version
transformations on save, and payloads on publish."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hookline.api.controls import checked_transformation
from hookline.domain.models import EventType
from hookline.domain.payload_schema import check_schema, validate
from hookline.errors import NotFoundError, ValidationError
from hookline.storage.base import Storage

_MAX_CACHED = 10_000


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
