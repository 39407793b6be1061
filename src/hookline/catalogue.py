"""The event catalogue (``hookline catalogue``): every event type, its schemas, examples.

The catalogue is what a consumer of webhooks reads: per event type its description,
its marks (deprecated, archived, feature flags, group), and per version the JSON
Schema, the transformation that makes that version's shape out of the latest, and
an example payload. It renders as Markdown (a page to publish beside the API docs)
or as JSON (to feed another tool).

Example payloads are made from each schema by :func:`example`, a small,
deterministic generator of JSON Schema basics (the same schema always gives the
same example, so a catalogue kept in a repository changes only when the schemas
do). What it understands, in the order it looks:

* ``const``, then the first of ``examples``, then ``default``, then the first value
  of ``enum``: taken as they are;
* ``$ref`` to a place in the same schema (``#/$defs/...``, ``#/definitions/...``);
* ``allOf``: the examples of its parts, merged (objects) or the first one;
  ``anyOf`` and ``oneOf``: the example of their first option;
* ``type`` (a list of types: the first that is not ``null``; no type: guessed
  from ``properties``, ``items``, string or number keywords):

  - ``object``: every declared property, in the order declared;
  - ``array``: ``prefixItems`` (or the older list form of ``items``) one each,
    else ``minItems`` items (at least one) made from ``items``, up to ``maxItems``;
  - ``string``: by ``format`` (``date-time``, ``date``, ``time``, ``email``,
    ``uri``, ``uuid``, ``ipv4``...), else ``"string"`` stretched or cut to
    ``minLength``/``maxLength``;
  - ``integer`` and ``number``: the ``minimum`` (or one above an exclusive
    minimum), else 0, kept within the maximum and rounded up to ``multipleOf``;
  - ``boolean``: ``true``; ``null``: ``null``.

Its limits: ``pattern``, ``not``, ``if``/``then``/``else``, ``dependentSchemas``,
``patternProperties``, ``additionalProperties``, ``uniqueItems``, ``contains``
and remote ``$ref`` are not looked at; required properties without a declared
schema are left out; recursion stops at :data:`MAX_DEPTH` levels with ``null``. So
each example is checked against its schema, and one that does not conform says
where; an ``examples`` entry in the schema fixes it, since it is taken first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from hookline.domain.models import EventType
from hookline.domain.payload_schema import validate
from hookline.domain.transform import TransformError, compile_transformation
from hookline.storage.base import Cursor, Storage

__all__ = [
    "FORMATS",
    "MAX_DEPTH",
    "Format",
    "catalogue_document",
    "example",
    "load_event_types",
    "render",
    "render_json",
    "render_markdown",
]

#: Nesting (and ``$ref``) levels followed before an example gives up with null.
MAX_DEPTH = 16
#: Event types read per page.
PAGE = 250

Format = Literal["markdown", "json"]
FORMATS: tuple[Format, ...] = ("markdown", "json")

#: Example strings by ``format``: fixed, so the catalogue is the same on every run.
_STRING_FORMATS = {
    "date-time": "2026-01-31T12:00:00Z",
    "date": "2026-01-31",
    "time": "12:00:00Z",
    "duration": "PT1H",
    "email": "jane@example.com",
    "idn-email": "jane@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "url": "https://example.com/",
    "uri-reference": "/path",
    "iri-reference": "/path",
    "uri-template": "https://example.com/{id}",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "json-pointer": "/path",
    "regex": "^.*$",
}
_OBJECT_HINTS = ("properties", "required", "additionalProperties", "minProperties")
_ARRAY_HINTS = ("items", "prefixItems", "minItems", "maxItems")
_STRING_HINTS = ("format", "minLength", "maxLength", "pattern")
_NUMBER_HINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


# --- examples --------------------------------------------------------------------------


def example(schema: Any) -> Any:
    """A deterministic example value for ``schema`` (see the module's docstring for how)."""
    return _Examples(schema).value(schema, 0)


class _Examples:
    """The generator, holding the root schema so that local ``$ref`` resolve."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def value(self, node: Any, depth: int) -> Any:
        if not isinstance(node, Mapping) or depth > MAX_DEPTH:
            return None  # true, false, {} or too deep: nothing better to say than null
        given = _given(node)
        if given is not _MISSING:
            return given
        composed = self.composed(node, depth)
        if composed is not _MISSING:
            return composed
        return self.typed(node, _type_of(node), depth)

    def composed(self, node: Mapping[str, Any], depth: int) -> Any:
        """The example of a ``$ref``, ``allOf``, ``oneOf`` or ``anyOf``; else _MISSING."""
        if isinstance(node.get("$ref"), str):
            return self.value(self.resolve(node["$ref"]), depth + 1)
        if isinstance(node.get("allOf"), list) and node["allOf"]:
            return self.all_of(node, depth)
        for keyword in ("oneOf", "anyOf"):
            options = node.get(keyword)
            if isinstance(options, list) and options and _type_of(node) is None:
                return self.value(options[0], depth + 1)
        return _MISSING

    def typed(self, node: Mapping[str, Any], kind: str | None, depth: int) -> Any:
        if kind == "object":
            properties = node.get("properties")
            if not isinstance(properties, Mapping):
                return {}
            return {str(name): self.value(sub, depth + 1) for name, sub in properties.items()}
        if kind == "array":
            return self.array(node, depth)
        scalar = _SCALARS.get(kind or "")
        return None if scalar is None else scalar(node)

    def array(self, node: Mapping[str, Any], depth: int) -> list[Any]:
        fixed = node.get("prefixItems")
        if not isinstance(fixed, list) and isinstance(node.get("items"), list):
            fixed = node["items"]  # drafts 4 to 2019-09: items as a list is a tuple
        if isinstance(fixed, list):
            return [self.value(sub, depth + 1) for sub in fixed]
        items = node.get("items")
        if not isinstance(items, Mapping):
            return []
        count = max(1, _int(node.get("minItems"), 0))
        count = min(count, _int(node.get("maxItems"), count))
        return [self.value(items, depth + 1) for _ in range(count)]

    def all_of(self, node: Mapping[str, Any], depth: int) -> Any:
        rest = {key: value for key, value in node.items() if key != "allOf"}
        parts = [self.value(sub, depth + 1) for sub in node["allOf"]]
        if _type_of(rest) is not None:
            parts.insert(0, self.typed(rest, _type_of(rest), depth))
        if parts and all(isinstance(part, dict) for part in parts):
            merged: dict[str, Any] = {}
            for part in parts:
                merged.update(part)
            return merged
        return next((part for part in parts if part is not None), None)

    def resolve(self, ref: str) -> Any:
        """The part of the root schema a local ``#/...`` reference names; None otherwise."""
        if ref == "#":
            return self.root
        if not ref.startswith("#/"):
            return None  # remote references are never fetched
        node: Any = self.root
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node


_MISSING = object()


def _given(node: Mapping[str, Any]) -> Any:
    """A value the schema gives itself (const, examples, default, enum); else _MISSING."""
    if "const" in node:
        return node["const"]
    examples = node.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if "default" in node:
        return node["default"]
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    return _MISSING


def _type_of(node: Mapping[str, Any]) -> str | None:
    """The schema's type: declared (the first non-null of a list), else guessed."""
    declared = node.get("type")
    if isinstance(declared, list):
        named = [t for t in declared if isinstance(t, str)]
        declared = next((t for t in named if t != "null"), named[0] if named else None)
    if isinstance(declared, str):
        return declared
    for kind, hints in (
        ("object", _OBJECT_HINTS), ("array", _ARRAY_HINTS), ("string", _STRING_HINTS),
        ("number", _NUMBER_HINTS),
    ):  # fmt: skip
        if any(hint in node for hint in hints):
            return kind
    return None


def _int(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback


def _num(value: Any) -> float | None:
    """A JSON number as such; None for anything else (booleans included)."""
    return None if isinstance(value, bool) or not isinstance(value, int | float) else value


def _string(node: Mapping[str, Any]) -> str:
    text = _STRING_FORMATS.get(str(node.get("format")), "string")
    shortest = _int(node.get("minLength"), 0)
    if len(text) < shortest:
        text += "x" * (shortest - len(text))
    longest = _int(node.get("maxLength"), -1)
    return text[:longest] if longest >= 0 else text


def _number(node: Mapping[str, Any], *, integer: bool) -> int | float:
    value: float = 0
    low, high = _num(node.get("minimum")), _num(node.get("maximum"))
    low_open, high_open = _num(node.get("exclusiveMinimum")), _num(node.get("exclusiveMaximum"))
    if low is not None:
        value = low
    if low_open is not None and value <= low_open:
        value = low_open + 1
    if high is not None and value > high:
        value = high
    if high_open is not None and value >= high_open:
        value = high_open - 1
    step = _num(node.get("multipleOf"))
    if step is not None and step > 0:
        value = math.ceil(value / step) * step
    if integer:
        return math.ceil(value)
    return int(value) if float(value).is_integer() else value


_SCALARS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "string": _string,
    "integer": lambda node: _number(node, integer=True),
    "number": lambda node: _number(node, integer=False),
    "boolean": lambda _node: True,
}


# --- the catalogue ---------------------------------------------------------------------


async def load_event_types(storage: Storage, include_archived: bool = False) -> list[EventType]:
    """Every event type, by name, a page at a time (archived ones only if asked)."""
    found: list[EventType] = []
    cursor = Cursor(limit=PAGE)
    while True:
        page = await storage.list_event_types(cursor, include_archived)
        found.extend(page.data)
        if page.done or not page.data:
            return found
        cursor = Cursor(limit=PAGE, iterator=page.iterator)


def _version_order(version: str) -> tuple[int, int, str]:
    """Newest first: numbered versions by number, descending, then any others by name."""
    return (0, -int(version), "") if version.isdigit() else (1, 0, version)


def _version_entry(
    event_type: EventType, version: str, schema: Any, latest_example: Any
) -> dict[str, Any]:
    latest = event_type.latest_version
    is_latest = latest is not None and version == str(latest)
    made = example(schema)
    problem = None
    if isinstance(schema, dict):
        fault = validate(schema, made)
        if fault is not None:
            where = ".".join(str(p) for p in fault.path) or "(the whole payload)"
            problem = f"at {where}: {fault.message}"
    transformation = (event_type.transformations or {}).get(version)
    delivered: Any = None
    delivered_problem = None
    if transformation is not None and not is_latest:
        try:
            delivered = compile_transformation(transformation).apply(latest_example).value
        except TransformError as error:
            delivered_problem = str(error)
    return {
        "version": version, "latest": is_latest, "schema": schema, "example": made,
        "exampleProblem": problem, "transformation": transformation,
        "delivered": delivered, "deliveredProblem": delivered_problem,
    }  # fmt: skip


def catalogue_document(event_types: Sequence[EventType]) -> dict[str, Any]:
    """The catalogue as one JSON-ready document (what ``--format json`` prints)."""
    entries = []
    for event_type in sorted(event_types, key=lambda e: e.name):
        schemas = event_type.schemas or {}
        latest = event_type.latest_version
        latest_schema = schemas.get(str(latest)) if latest is not None else None
        latest_example = example(latest_schema)
        versions = [
            _version_entry(event_type, version, schemas[version], latest_example)
            for version in sorted(schemas, key=_version_order)
        ]
        entries.append({
            "name": event_type.name, "description": event_type.description,
            "groupName": event_type.group_name, "deprecated": event_type.deprecated,
            "archived": event_type.archived,
            "featureFlags": list(event_type.feature_flags or []) or None,
            "enforceSchema": event_type.enforce_schema,
            "latestVersion": None if latest is None else str(latest), "versions": versions,
        })  # fmt: skip
    return {"eventTypes": entries}


def render_json(event_types: Sequence[EventType]) -> str:
    """The catalogue as pretty JSON, keys in a fixed order, ending with a newline."""
    return json.dumps(catalogue_document(event_types), indent=2, ensure_ascii=False) + "\n"


def render(event_types: Sequence[EventType], fmt: Format = "markdown") -> str:
    """The catalogue in ``fmt``: ``markdown`` or ``json``."""
    if fmt == "json":
        return render_json(event_types)
    return render_markdown(event_types)


# --- Markdown --------------------------------------------------------------------------

_NOT_IN_ANCHOR = re.compile(r"[^\w\- ]")


def _anchor(heading: str) -> str:
    """The fragment GitHub (and most Markdown renderers) give a heading."""
    return _NOT_IN_ANCHOR.sub("", heading.strip().lower()).replace(" ", "-")


def _text(value: str) -> str:
    """Free text from the database made safe to put in Markdown (no raw HTML)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value: str) -> str:
    """Free text for a table cell: one line, no column breaks."""
    return " ".join(_text(value).replace("|", "\\|").split())


def _code(value: str) -> str:
    """An inline code span that holds ``value`` whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _json_block(value: Any) -> list[str]:
    """A fenced JSON block, its fence longer than any run of backticks inside."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}json", text, fence, ""]


def _marks(entry: Mapping[str, Any]) -> list[str]:
    marks = []
    if entry["deprecated"]:
        marks.append("deprecated")
    if entry["archived"]:
        marks.append("archived")
    return marks


def _summary_lines(entry: Mapping[str, Any]) -> list[str]:
    lines = []
    if entry["deprecated"]:
        lines.append("- **Deprecated**: still delivered, but do not build anything new on it.")
    if entry["archived"]:
        lines.append("- **Archived**: no longer published.")
    if entry["groupName"]:
        lines.append(f"- Group: {_code(entry['groupName'])}")
    if entry["featureFlags"]:
        flags = ", ".join(_code(flag) for flag in entry["featureFlags"])
        lines.append(f"- Feature flags: {flags}")
    versions = [v["version"] for v in entry["versions"]]
    if versions:
        lines.append(
            f"- Versions: {', '.join(versions)}; payloads are published in version "
            f"{entry['latestVersion']}"
            + (", and checked against its schema" if entry["enforceSchema"] else "")
        )
    return lines


def _version_lines(entry: Mapping[str, Any], version: Mapping[str, Any]) -> list[str]:
    number = version["version"]
    latest_mark = " (latest)" if version["latest"] else ""
    title = f"### {_code(entry['name'])} version {number}{latest_mark}"
    lines = [title, "", "Schema:", "", *_json_block(version["schema"])]
    lines += ["Example payload:", "", *_json_block(version["example"])]
    if version["exampleProblem"]:
        lines += [
            "This example, generated from the schema, does not conform to it"
            f" ({_text(version['exampleProblem'])}); an `examples` entry in the schema gives"
            " a better one.",
            "",
        ]
    if version["latest"]:
        return lines
    latest = entry["latestVersion"]
    if version["transformation"] is None:
        lines += [
            f"Endpoints pinned to version {number} receive the version {latest} payload"
            " unchanged: this version has no transformation.",
            "",
        ]
        return lines
    lines += [
        f"Endpoints pinned to version {number} receive the version {latest} payload"
        " reshaped by this transformation:",
        "",
        *_json_block(version["transformation"]),
    ]
    if version["deliveredProblem"]:
        lines += [
            f"It fails on the version {latest} example: {_text(version['deliveredProblem'])}.",
            "",
        ]
    else:
        lines += [
            f"For the version {latest} example above, they receive:",
            "",
            *_json_block(version["delivered"]),
        ]
    return lines


def render_markdown(event_types: Sequence[EventType]) -> str:
    """The catalogue as a Markdown page: a table of contents, then a section per type."""
    document = catalogue_document(event_types)
    entries = document["eventTypes"]
    count = len(entries)
    lines = [
        "# Event catalogue",
        "",
        f"{count} event type{'' if count == 1 else 's'}, written by `hookline catalogue` from"
        " the event types stored in hookline. Every webhook is a POST with a JSON body, signed"
        " (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`). Example"
        " payloads are generated from each version's JSON Schema, not taken from real events.",
        "",
    ]
    if entries:
        lines += ["| event type | description | latest version | |", "|---|---|---|---|"]
        for entry in entries:
            link = f"[{_code(entry['name'])}](#{_anchor(entry['name'])})"
            latest = entry["latestVersion"] or "-"
            marks = ", ".join(_marks(entry))
            lines.append(f"| {link} | {_cell(entry['description'])} | {latest} | {marks} |")
        lines.append("")
    for entry in entries:
        lines += [f"## {_code(entry['name'])}", ""]
        if entry["description"]:
            lines += [_text(entry["description"]), ""]
        summary = _summary_lines(entry)
        if summary:
            lines += [*summary, ""]
        if not entry["versions"]:
            lines += ["No schema: payloads of this type are free-form JSON.", ""]
        for version in entry["versions"]:
            lines += _version_lines(entry, version)
    return "\n".join(lines).rstrip("\n") + "\n"
