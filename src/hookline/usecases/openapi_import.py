"""Event types imported from an OpenAPI document's webhooks (Svix's import/openapi)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from hookline.domain.models import EventType
from hookline.domain.openapi_events import ImportedEventType, event_types_of
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError, ValidationError
from hookline.storage.base import Cursor, Storage
from hookline.usecases.event_types import (
    EventTypeCache,
    check_versioning,
    delete_event_type,
    put_event_type,
)

#: Event types read per page when ``replaceAll`` looks for those the document drops.
PAGE = 250


def parse_document(spec: Mapping[str, Any] | None, spec_raw: str | None) -> Mapping[str, Any]:
    """The document, given as JSON (``spec``) or as YAML or JSON text (``specRaw``)."""
    if spec is not None:
        return spec
    try:
        loaded = yaml.safe_load(spec_raw or "")
    except yaml.YAMLError as error:
        raise ValidationError(f"specRaw is not YAML or JSON: {error}", field=("specRaw",)) from None
    if not isinstance(loaded, Mapping):
        raise ValidationError(
            "specRaw must hold an OpenAPI document (an object)", field=("specRaw",)
        )
    return loaded


def _fields(imported: ImportedEventType) -> dict[str, Any]:
    return {
        "description": imported.description, "schemas": imported.schemas,
        "deprecated": imported.deprecated, "group_name": imported.group_name,
        "feature_flags": imported.feature_flags, "archived": False,
    }  # fmt: skip


def _differs(current: EventType | None, imported: ImportedEventType) -> bool:
    if current is None:
        return True
    return any(getattr(current, key) != value for key, value in _fields(imported).items())


async def import_openapi(
    storage: Storage, cache: EventTypeCache, who: Principal, document: Mapping[str, Any],
    *, dry_run: bool, replace_all: bool, now: float,
) -> tuple[list[str], list[ImportedEventType]]:  # fmt: skip
    """Create or update the document's event types (and with ``replace_all``, archive the
    live ones it does not name); the names changed, and the types that change. Every
    type is checked before any is written; ``dry_run`` writes nothing."""
    imported = event_types_of(document)
    for item in imported:
        check_versioning(item.schemas, None, False)
    changing: list[ImportedEventType] = []
    for item in imported:
        current = await _current(storage, item.name)
        if _differs(current, item):
            changing.append(item)
    dropped = await _dropped(storage, {item.name for item in imported}) if replace_all else []
    modified = sorted([item.name for item in changing] + dropped)
    if dry_run:
        return modified, changing
    for item in changing:
        await put_event_type(storage, cache, who, item.name, _fields(item), now)
    for name in dropped:
        await delete_event_type(storage, cache, who, name, expunge=False, now=now)
    return modified, changing


async def _current(storage: Storage, name: str) -> EventType | None:
    try:
        return await storage.get_event_type(name)
    except NotFoundError:
        return None


async def _dropped(storage: Storage, named: set[str]) -> list[str]:
    """The live event types the document does not name."""
    dropped: list[str] = []
    cursor = Cursor(limit=PAGE)
    while True:
        page = await storage.list_event_types(cursor, include_archived=False)
        dropped.extend(e.name for e in page.data if e.name not in named)
        if page.done:
            return dropped
        cursor = Cursor(limit=PAGE, iterator=page.iterator)
