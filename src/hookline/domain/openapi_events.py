"""Event types read from the webhooks of an OpenAPI document (Svix's import/openapi).

OpenAPI 3.1 lists webhooks under ``webhooks``, 3.0 documents under ``x-webhooks``:
each key is an event type's name, its ``post`` operation describes it (``description``
or else ``summary``, ``deprecated``, the first of ``tags`` as the group, Svix's
``x-svix-feature-flags`` and ``x-svix-group-name``), and the JSON body's schema becomes
the type's version 1 schema, with local ``$ref``s (``#/components/...``) put in place.
Pure: a document in, event types out, or a ``ValidationError`` naming what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hookline.errors import ValidationError

NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,256}$")
#: How deep ``$ref``s may nest once put in place (a recursive schema stops here).
MAX_REF_DEPTH = 32
#: The most event types one document may hold.
MAX_EVENT_TYPES = 1000


@dataclass(frozen=True, slots=True)
class ImportedEventType:
    """An event type as the document describes it."""

    name: str
    description: str
    schemas: dict[str, Any] | None
    deprecated: bool
    group_name: str | None
    feature_flags: tuple[str, ...] | None


def event_types_of(document: Mapping[str, Any]) -> list[ImportedEventType]:
    """The event types the document's webhooks describe, by name."""
    if not isinstance(document, Mapping):
        raise ValidationError("the OpenAPI document must be an object", field=("spec",))
    webhooks = document.get("webhooks", document.get("x-webhooks"))
    if webhooks is None:
        return []
    if not isinstance(webhooks, Mapping):
        raise ValidationError(
            "webhooks must be an object of event types", field=("spec", "webhooks")
        )
    if len(webhooks) > MAX_EVENT_TYPES:
        raise ValidationError(
            f"the document has {len(webhooks)} webhooks; at most {MAX_EVENT_TYPES} at once",
            field=("spec", "webhooks"),
        )
    found = [_event_type(document, str(name), item) for name, item in webhooks.items()]
    return sorted(found, key=lambda e: e.name)


def _event_type(document: Mapping[str, Any], name: str, item: Any) -> ImportedEventType:
    where = ("spec", "webhooks", name)
    if not NAME.match(name):
        raise ValidationError(
            f"webhook {name!r} is not a valid event type name (letters, digits, - _ .)",
            field=where,
        )
    operation = item.get("post") if isinstance(item, Mapping) else None
    if not isinstance(operation, Mapping):
        raise ValidationError(f"webhook {name!r} has no post operation", field=where)
    description = operation.get("description") or operation.get("summary") or ""
    tags = operation.get("tags")
    group = operation.get("x-svix-group-name") or (
        tags[0] if isinstance(tags, list) and tags else None
    )
    flags = operation.get("x-svix-feature-flags")
    schema = _body_schema(operation)
    return ImportedEventType(
        name=name, description=str(description)[:4096],
        schemas=None if schema is None else {"1": _inline(document, schema, 0, where)},
        deprecated=bool(operation.get("deprecated", False)),
        group_name=None if group is None else _group(str(group), where),
        feature_flags=tuple(str(f) for f in flags) if isinstance(flags, list) and flags else None,
    )  # fmt: skip


def _group(group: str, where: tuple[str, ...]) -> str:
    if not NAME.match(group):
        raise ValidationError(
            f"group name {group!r} is not valid (letters, digits, - _ .)", field=where
        )
    return group


def _body_schema(operation: Mapping[str, Any]) -> Any:
    body = operation.get("requestBody")
    content = body.get("content") if isinstance(body, Mapping) else None
    if not isinstance(content, Mapping):
        return None
    media = content.get("application/json") or next(iter(content.values()), None)
    schema = media.get("schema") if isinstance(media, Mapping) else None
    return schema if isinstance(schema, Mapping) else None


def _inline(document: Mapping[str, Any], node: Any, depth: int, where: tuple[str, ...]) -> Any:
    """``node`` with each local ``$ref`` replaced by what it points to."""
    if isinstance(node, list):
        return [_inline(document, item, depth, where) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if depth >= MAX_REF_DEPTH:
            raise ValidationError(
                f"$ref {ref!r} nests more than {MAX_REF_DEPTH} deep (a recursive schema?)",
                field=where,
            )
        return _inline(document, _resolve(document, ref, where), depth + 1, where)
    return {key: _inline(document, value, depth, where) for key, value in node.items()}


def _resolve(document: Mapping[str, Any], ref: str, where: tuple[str, ...]) -> Any:
    if not ref.startswith("#/"):
        raise ValidationError(f"$ref {ref!r} is not local to the document (#/...)", field=where)
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            raise ValidationError(f"$ref {ref!r} points at nothing", field=where)
        node = node[key]
    return node
