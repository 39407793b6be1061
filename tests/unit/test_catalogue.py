"""Tests for hookline.catalogue: the example generator and the catalogue's rendering."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import jsonschema
import pytest

from hookline.catalogue import (
    MAX_DEPTH,
    catalogue_document,
    example,
    load_event_types,
    render,
    render_json,
    render_markdown,
)
from hookline.domain.models import EventType, Page
from hookline.storage.base import Cursor

# --- the example generator ---------------------------------------------------------------


def test_an_object_example_has_every_declared_property_in_order() -> None:
    """An object's example has each declared property, required or not, in declared order."""
    schema = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"}, "count": {"type": "integer"}, "ratio": {"type": "number"},
            "active": {"type": "boolean"}, "gone": {"type": "null"},
        },
    }  # fmt: skip
    made = example(schema)
    assert made == {"id": "string", "count": 0, "ratio": 0, "active": True, "gone": None}
    assert list(made) == ["id", "count", "ratio", "active", "gone"]


def test_values_the_schema_gives_come_first_const_examples_default_enum() -> None:
    """const wins over examples, examples over default, default over enum."""
    assert example({"type": "string", "const": "c", "examples": ["e"], "default": "d"}) == "c"
    assert example({"type": "string", "examples": ["e", "f"], "default": "d"}) == "e"
    assert example({"type": "string", "default": "d", "enum": ["x"]}) == "d"
    assert example({"type": "string", "enum": ["EUR", "USD"]}) == "EUR"
    assert example({"type": "integer", "default": 0, "minimum": 5}) == 0  # taken as given


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("date-time", "2026-01-31T12:00:00Z"),
        ("date", "2026-01-31"),
        ("email", "jane@example.com"),
        ("uri", "https://example.com/"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000"),
        ("ipv4", "192.0.2.1"),
        ("no-such-format", "string"),
    ],
)
def test_strings_follow_their_format(fmt: str, expected: str) -> None:
    """A string's example is a fixed value of its format ("string" for unknown formats)."""
    assert example({"type": "string", "format": fmt}) == expected


def test_a_date_time_example_parses_as_one() -> None:
    """The date-time example is a real RFC 3339 time."""
    assert datetime.fromisoformat(example({"type": "string", "format": "date-time"}))


def test_strings_are_stretched_or_cut_to_their_length_bounds() -> None:
    """minLength pads the example, maxLength cuts it."""
    assert example({"type": "string", "minLength": 10}) == "stringxxxx"
    assert example({"type": "string", "maxLength": 3}) == "str"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer"}, 0),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "integer", "exclusiveMaximum": 0}, -1),
        ({"type": "integer", "minimum": 7, "multipleOf": 5}, 10),
        ({"type": "integer", "minimum": 2.5}, 3),
        ({"type": "number", "minimum": 2.5}, 2.5),
        ({"type": "number", "minimum": 1, "maximum": 1}, 1),
    ],
)
def test_numbers_start_at_their_minimum_within_their_bounds(
    schema: dict[str, Any], expected: float
) -> None:
    """A number is its minimum (or just above an exclusive one), else 0, kept within bounds."""
    assert example(schema) == expected


def test_arrays_have_one_item_or_their_minimum_count() -> None:
    """An array holds one item made from items, or minItems of them, at most maxItems."""
    assert example({"type": "array", "items": {"type": "integer"}}) == [0]
    assert example({"type": "array", "items": {"type": "boolean"}, "minItems": 3}) == [True] * 3
    assert example({"type": "array", "items": {"type": "string"}, "maxItems": 0}) == []
    assert example({"type": "array"}) == []


def test_tuples_have_one_value_per_position() -> None:
    """prefixItems (and the older list form of items) give one value per position."""
    tuple_2020 = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    tuple_draft7 = {"type": "array", "items": [{"type": "boolean"}, {"const": 4}]}
    assert example(tuple_2020) == ["string", 0]
    assert example(tuple_draft7) == [True, 4]


def test_local_references_are_followed() -> None:
    """$ref to $defs or definitions in the same schema are resolved."""
    schema = {
        "type": "object",
        "properties": {
            "line": {"$ref": "#/$defs/line"},
            "money": {"$ref": "#/definitions/money"},
        },
        "$defs": {"line": {"type": "object", "properties": {"sku": {"examples": ["SKU-1"]}}}},
        "definitions": {"money": {"type": "integer", "minimum": 100}},
    }
    assert example(schema) == {"line": {"sku": "SKU-1"}, "money": 100}


def test_remote_and_broken_references_give_null() -> None:
    """A remote $ref is never fetched, and a dangling one gives null."""
    assert example({"$ref": "https://example.com/schema.json"}) is None
    assert example({"$ref": "#/$defs/missing"}) is None


def test_a_recursive_schema_stops_at_the_depth_limit() -> None:
    """A schema that refers to itself ends in null after MAX_DEPTH levels, not a crash."""
    schema = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    made = example(schema)
    depth = 0
    while isinstance(made, dict):
        made = made["child"]
        depth += 1
    assert made is None
    assert depth <= MAX_DEPTH


def test_combinators_merge_all_of_and_take_the_first_option() -> None:
    """allOf merges its parts' objects; oneOf and anyOf take their first option."""
    all_of = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {"type": "object", "properties": {"b": {"type": "boolean"}}},
        ]
    }
    assert example(all_of) == {"a": 0, "b": True}
    assert example({"oneOf": [{"type": "string"}, {"type": "integer"}]}) == "string"
    assert example({"anyOf": [{"type": "integer", "minimum": 3}, {"type": "null"}]}) == 3


def test_type_lists_and_missing_types() -> None:
    """A list of types takes the first non-null; without a type the keywords tell."""
    assert example({"type": ["null", "integer"]}) == 0
    assert example({"type": ["null"]}) is None
    assert example({"properties": {"x": {"minLength": 1}}}) == {"x": "string"}
    assert example({"items": {"minimum": 2}}) == [2]
    assert example({}) is None
    assert example(True) is None


def test_examples_are_deterministic() -> None:
    """The same schema always gives the same example."""
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    assert example(schema) == example(json.loads(json.dumps(schema)))


SUPPORTED = [
    {"type": "object", "required": ["a", "b"], "properties": {
        "a": {"type": "string", "format": "email"}, "b": {"type": "integer", "minimum": 10},
        "c": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 2},
        "d": {"type": ["string", "null"], "minLength": 8, "maxLength": 9},
        "e": {"enum": [3, 4]}, "f": {"type": "boolean"},
    }},
    {"type": "object", "properties": {"n": {"$ref": "#/$defs/n"}},
     "$defs": {"n": {"type": "integer", "minimum": -5, "maximum": -2, "multipleOf": 2}}},
    {"allOf": [{"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
               {"type": "object", "properties": {"y": {"type": "integer"}}}]},
    {"type": "array", "prefixItems": [{"type": "string", "format": "uuid"}, {"const": None}]},
]  # fmt: skip


@pytest.mark.parametrize("schema", SUPPORTED)
def test_the_example_of_a_supported_schema_conforms_to_it(schema: dict[str, Any]) -> None:
    """For the keywords the generator knows, its example validates against the schema."""
    jsonschema.Draft202012Validator(schema).validate(example(schema))


# --- the catalogue -----------------------------------------------------------------------

V1 = {"type": "object", "properties": {"invoice": {"type": "string"}, "total": {"type": "number"}}}
V2 = {
    "type": "object",
    "required": ["invoice", "amount"],
    "properties": {
        "invoice": {"type": "string", "examples": ["in_42"]},
        "amount": {"type": "integer", "minimum": 1},
    },
}
INVOICE = EventType(
    name="invoice.paid", description="An invoice was paid", schemas={"1": V1, "2": V2},
    transformations={"1": {"body": "{invoice: invoice, total: amount}"}}, enforce_schema=True,
    feature_flags=("beta",), group_name="billing",
)  # fmt: skip
PING = EventType(name="ping", description="A <b>test</b> | event", deprecated=True)
OLD = EventType(name="old.thing", archived=True, schemas={"1": {"type": "string"}, "2": V1})


def test_the_json_catalogue_lists_versions_newest_first_with_examples() -> None:
    """The JSON document has each type's marks and its versions, newest first, with examples."""
    document = catalogue_document([PING, INVOICE])
    names = [entry["name"] for entry in document["eventTypes"]]
    assert names == ["invoice.paid", "ping"]
    invoice = document["eventTypes"][0]
    assert invoice["featureFlags"] == ["beta"]
    assert (invoice["groupName"], invoice["enforceSchema"]) == ("billing", True)
    assert invoice["latestVersion"] == "2"
    latest, older = invoice["versions"]
    assert (latest["version"], latest["latest"], latest["example"]) == (
        "2", True, {"invoice": "in_42", "amount": 1},
    )  # fmt: skip
    assert latest["transformation"] is None
    assert older["version"] == "1"
    assert older["example"] == {"invoice": "string", "total": 0}
    assert older["delivered"] == {"invoice": "in_42", "total": 1}
    assert document["eventTypes"][1]["versions"] == []
    assert json.loads(render_json([INVOICE])) == catalogue_document([INVOICE])


def test_markdown_has_a_linked_table_and_a_section_per_type_and_version() -> None:
    """The page links each type from its table to its section, each version in its own."""
    page = render_markdown([INVOICE, PING])
    assert page.startswith("# Event catalogue\n\n2 event types,")
    assert "| [`invoice.paid`](#invoicepaid) | An invoice was paid | 2 |  |" in page
    assert "\n## `invoice.paid`\n" in page
    assert "- Feature flags: `beta`" in page
    assert "- Group: `billing`" in page
    assert "payloads are published in version 2, and checked against its schema" in page
    v2 = page.index("### `invoice.paid` version 2 (latest)")
    v1 = page.index("### `invoice.paid` version 1\n")
    assert v2 < v1
    assert "receive the version 2 payload reshaped by this transformation" in page
    assert "No schema: payloads of this type are free-form JSON." in page
    assert page.endswith("\n")
    assert not page.endswith("\n\n")


def test_markdown_marks_deprecated_and_archived_types() -> None:
    """Deprecated and archived types say so, in the table and in their section."""
    page = render_markdown([PING, OLD])
    assert re.search(r"\| \[`ping`\]\(#ping\) \| .* \| - \| deprecated \|", page)
    assert "| archived |" in page
    assert "- **Deprecated**" in page
    assert "- **Archived**" in page
    assert "receive the version 2 payload unchanged: this version has no transformation" in page


def test_markdown_does_not_pass_html_or_table_breaks_through() -> None:
    """Descriptions cannot inject HTML or break the table."""
    page = render_markdown([PING])
    assert "<b>" not in page
    assert "A &lt;b&gt;test&lt;/b&gt; \\| event" in page


def test_code_fences_outlast_backticks_in_the_schema() -> None:
    """A schema holding backticks does not end its code block early."""
    schema = {"type": "string", "description": "use ```code```", "examples": ["````"]}
    page = render_markdown([EventType(name="tick", schemas={"1": schema})])
    blocks = re.findall(r"^(`{3,})json\n.*?^\1$", page, re.M | re.S)
    assert len(blocks) == 2
    assert all(len(fence) >= 5 for fence in blocks)


def test_an_example_that_does_not_conform_says_where() -> None:
    """A keyword the generator ignores (pattern) is caught and the page says where."""
    schema = {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^SKU-"}}}
    page = render_markdown([EventType(name="sku", schemas={"1": schema})])
    assert "does not conform to it (at sku: 'string' does not match '^SKU-')" in page


def test_a_failing_version_transformation_is_reported() -> None:
    """A version transformation that fails on the latest example is reported, not raised."""
    broken = EventType(
        name="broken", schemas={"1": V1, "2": V2},
        transformations={"1": {"body": "abs(invoice)"}},
    )  # fmt: skip
    entry = catalogue_document([broken])["eventTypes"][0]
    assert entry["versions"][1]["delivered"] is None
    assert entry["versions"][1]["deliveredProblem"]
    assert "It fails on the version 2 example" in render_markdown([broken])


def test_render_picks_the_format() -> None:
    """render gives Markdown by default and JSON when asked."""
    assert render([PING]).startswith("# Event catalogue")
    assert json.loads(render([PING], "json"))["eventTypes"][0]["name"] == "ping"


class PagedTypes:
    """Just enough storage: event types by name, a page at a time."""

    def __init__(self, event_types: list[EventType]) -> None:
        self.event_types = sorted(event_types, key=lambda e: e.name)
        self.calls: list[tuple[Cursor, bool]] = []

    async def list_event_types(self, cursor: Cursor, include_archived: bool) -> Page[EventType]:
        self.calls.append((cursor, include_archived))
        shown = [e for e in self.event_types if include_archived or not e.archived]
        after = [e for e in shown if cursor.iterator is None or e.name > cursor.iterator]
        data = after[: cursor.limit]
        done = len(after) <= cursor.limit
        return Page(data, data[-1].name if data else None, None, done)


async def test_load_event_types_reads_every_page() -> None:
    """Every event type is read, page after page, archived ones only when asked."""
    many = [EventType(name=f"type.{n:03}") for n in range(600)] + [OLD]
    storage = PagedTypes(many)
    found = await load_event_types(storage, include_archived=False)  # type: ignore[arg-type]
    assert [e.name for e in found] == [f"type.{n:03}" for n in range(600)]
    assert len(storage.calls) == 3
    with_archived = await load_event_types(storage, include_archived=True)  # type: ignore[arg-type]
    assert "old.thing" in [e.name for e in with_archived]
