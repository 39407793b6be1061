"""Payload filters: operators, paths, arrays, reasons, compile errors and bounded cost."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookline.domain.filters import (
    DEFAULT_LIMITS,
    TOO_COSTLY,
    FilterError,
    Limits,
    PayloadFilter,
    compile_cached,
    compile_filter,
)
from hookline.errors import ValidationError

INVOICE = {
    "type": "invoice.paid",
    "data": {
        "amount": 5,
        "currency": "EUR",
        "customer": {"id": "cus_1", "vip": True, "note": None},
        "tags": ["new", "b2b"],
        "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3, "tags": ["x", "y"]}],
    },
}


def body(condition: object) -> PayloadFilter:
    return compile_filter({"body": condition})


def matches(condition: object, payload: object = INVOICE) -> bool:
    return body(condition).matches(payload)


# --- equality, negation, presence -----------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"type": "invoice.paid"}, True),
        ({"type": "invoice.failed"}, False),
        ({"data.amount": 5}, True),
        ({"data.amount": 5.0}, True),
        ({"data.amount": "5"}, False),
        ({"data.customer.vip": True}, True),
        ({"data.customer.vip": 1}, False),
        ({"data.customer.note": None}, True),
        ({"data.customer.missing": None}, False),
        ({"data.amount": {"$eq": 5}}, True),
        ({"data.amount": {"$neq": 5}}, False),
        ({"data.amount": {"$neq": 6}}, True),
        ({"data.missing": {"$neq": 6}}, True),
        ({"data.customer": {"id": "cus_1", "vip": True, "note": None}}, True),
        ({"data.customer": {"vip": True, "id": "cus_1", "note": None}}, True),
        ({"data.customer": {"id": "cus_1"}}, False),
        ({"data.customer.id": {"$exist": True}}, True),
        ({"data.customer.note": {"$exist": True}}, True),
        ({"data.customer.email": {"$exist": True}}, False),
        ({"data.customer.email": {"$exist": False}}, True),
        ({"data.customer.id": {"$exist": False}}, False),
        ({"type": "invoice.paid", "data.amount": 6}, False),
    ],
)
def test_equality_and_presence(condition: object, expected: bool) -> None:
    """Plain values mean $eq with JSON equality; $neq negates it; $exist tests presence."""
    assert matches(condition) is expected


def test_object_with_plain_keys_is_a_value() -> None:
    """A nested object is an operator object only when every key starts with $."""
    payload = {"meta": {"$gt": 1, "x": 2}, "empty": {}, "ops": {"$gt": 1}}
    assert matches({"meta": {"$gt": 1, "x": 2}}, payload)
    assert matches({"empty": {}}, payload)
    assert not matches({"meta": {}}, payload)
    assert matches({"ops": {"$eq": {"$gt": 1}}}, payload)
    assert not matches({"ops": {"$gt": 1}}, payload)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"data.amount": {"$gt": 4}}, True),
        ({"data.amount": {"$gt": 5}}, False),
        ({"data.amount": {"$gte": 5}}, True),
        ({"data.amount": {"$lt": 5.5}}, True),
        ({"data.amount": {"$lte": 4}}, False),
        ({"data.amount": {"$gt": 1, "$lt": 10}}, True),
        ({"data.amount": {"$gt": 1, "$lt": 3}}, False),
        ({"data.currency": {"$gt": "EUA"}}, True),
        ({"data.currency": {"$lt": "EUA"}}, False),
        ({"data.currency": {"$gte": "EUR", "$lte": "EUR"}}, True),
        ({"data.amount": {"$gt": "1"}}, False),
        ({"data.currency": {"$lt": 100}}, False),
        ({"data.customer.vip": {"$gt": 0}}, False),
        ({"data.customer": {"$gt": 0}}, False),
        ({"data.missing": {"$lt": 100}}, False),
    ],
)
def test_ordering(condition: object, expected: bool) -> None:
    """$gt and friends compare numbers with numbers, strings with strings, else are false."""
    assert matches(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"data.currency": {"$in": ["USD", "EUR"]}}, True),
        ({"data.currency": {"$in": ["USD"]}}, False),
        ({"data.currency": {"$in": []}}, False),
        ({"data.currency": {"$nin": ["USD"]}}, True),
        ({"data.currency": {"$nin": ["EUR"]}}, False),
        ({"data.missing": {"$nin": ["EUR"]}}, True),
        ({"data.missing": {"$in": [None]}}, False),
        ({"data.customer.note": {"$in": [None]}}, True),
        ({"data.amount": {"$in": [5.0, "x"]}}, True),
        ({"data.amount": {"$in": [True, "5"]}}, False),
        ({"data.customer.vip": {"$in": [1]}}, False),
        ({"data.customer.vip": {"$in": [True]}}, True),
        ({"data.customer": {"$in": [{"id": "cus_1", "vip": True, "note": None}]}}, True),
        ({"data.tags": {"$in": [["new", "b2b"]]}}, True),
        ({"data.tags": {"$in": ["b2b"]}}, True),
    ],
)
def test_membership(condition: object, expected: bool) -> None:
    """$in holds when the value (or an array element) equals an item; $nin negates it."""
    assert matches(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"type": {"$regex": "^invoice\\."}}, True),
        ({"type": {"$regex": "paid$"}}, True),
        ({"type": {"$regex": "^paid"}}, False),
        ({"type": {"$regex": "(?i)INVOICE"}}, True),
        ({"type": {"$regex": "INVOICE"}}, False),
        ({"data.amount": {"$regex": "5"}}, False),
        ({"data.tags": {"$regex": "^b2"}}, True),
        ({"data.missing": {"$regex": ""}}, False),
    ],
)
def test_regex(condition: object, expected: bool) -> None:
    """$regex searches strings only (array elements included), with RE2's inline flags."""
    assert matches(condition) is expected


def test_hostile_regex_returns_promptly() -> None:
    """A catastrophic-backtracking pattern runs in linear time on a 100k-character string."""
    hostile = body({"text": {"$regex": "(a+)+$"}})
    text = "a" * 100_000 + "!"
    started = time.perf_counter()
    assert not hostile.matches({"text": text})
    assert hostile.matches({"text": text[:-1]})
    assert time.perf_counter() - started < 1.0


# --- paths and arrays -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"data.items.sku": "A"}, True),
        ({"data.items.sku": "B"}, True),
        ({"data.items.sku": "C"}, False),
        ({"data.items.0.sku": "A"}, True),
        ({"data.items.0.sku": "B"}, False),
        ({"data.items.1.sku": "B"}, True),
        ({"data.items.2.sku": "B"}, False),
        ({"data.items.qty": {"$gt": 2}}, True),
        ({"data.items.qty": {"$gt": 3}}, False),
        ({"data.items.sku": {"$neq": "A"}}, False),
        ({"data.items.sku": {"$nin": ["C", "D"]}}, True),
        ({"data.items.tags": "y"}, True),
        ({"data.items.tags": ["x", "y"]}, True),
        ({"data.items.tags": {"$exist": True}}, True),
        ({"data.items.color": {"$exist": True}}, False),
        ({"data.items.color": {"$exist": False}}, True),
        ({"data.tags": "b2b"}, True),
        ({"data.tags": ["new", "b2b"]}, True),
        ({"data.tags": ["b2b", "new"]}, False),
        ({"data.tags.1": "b2b"}, True),
        ({"data.tags.x": "b2b"}, False),
        ({"data.items": {"sku": "A", "qty": 1}}, True),
    ],
)
def test_arrays(condition: object, expected: bool) -> None:
    """A path reaches into every array element; digits index; $eq also means 'contains'."""
    assert matches(condition) is expected


def test_digit_segment_is_a_key_on_objects() -> None:
    """On an object, an all-digit segment is an ordinary key."""
    assert matches({"codes.404": "not found"}, {"codes": {"404": "not found"}})
    assert not matches({"codes.404": "not found"}, {"codes": ["x"]})


def test_arrays_nested_in_arrays_are_not_entered() -> None:
    """Only objects in an array are reached into, as in MongoDB."""
    payload = {"grid": [[{"v": 1}], {"v": 2}]}
    assert matches({"grid.v": 2}, payload)
    assert not matches({"grid.v": 1}, payload)
    assert matches({"grid.0.0.v": 1}, payload)


def test_each_operator_picks_its_own_element() -> None:
    """Operators in one object are tested separately across array elements."""
    payload = {"scores": [1, 10]}
    assert matches({"scores": {"$gt": 5, "$lt": 5}}, payload)
    assert not matches({"scores": {"$gt": 20}}, payload)


@pytest.mark.parametrize("payload", [[{"type": "invoice.paid"}], "text", 5, None, True])
def test_body_that_is_not_an_object_has_no_fields(payload: object) -> None:
    """When the payload is not an object, every field is missing."""
    assert not matches({"type": "invoice.paid"}, payload)
    assert not matches({"0.type": "invoice.paid"}, payload)
    assert matches({"type": {"$exist": False}}, payload)
    assert matches({"type": {"$neq": "x"}}, payload)


# --- logical operators ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"$and": [{"type": "invoice.paid"}, {"data.amount": 5}]}, True),
        ({"$and": [{"type": "invoice.paid"}, {"data.amount": 6}]}, False),
        ({"$or": [{"type": "x"}, {"data.amount": 5}]}, True),
        ({"$or": [{"type": "x"}, {"data.amount": 6}]}, False),
        ({"$not": {"type": "x"}}, True),
        ({"$not": {"type": "invoice.paid"}}, False),
        ({"$or": [{"$and": [{"type": "x"}]}, {"$not": {"$or": [{"data.amount": 6}]}}]}, True),
        ({"type": "invoice.paid", "$or": [{"data.currency": "USD"}, {"data.amount": 5}]}, True),
        ({"type": "invoice.paid", "$not": {"data.customer.vip": True}}, False),
        ({"$and": [{}, {"type": "invoice.paid"}]}, True),
        ({"data.amount": {"$not": {"$gt": 10}}}, True),
        ({"data.amount": {"$not": {"$gt": 1, "$lt": 10}}}, False),
        ({"data.missing": {"$not": {"$gt": 10}}}, True),
    ],
)
def test_logical_operators(condition: object, expected: bool) -> None:
    """$and, $or and $not combine conditions at any level; a field's $not negates operators."""
    assert matches(condition) is expected


# --- headers and the document ---------------------------------------------------------


def test_headers_match_case_insensitively() -> None:
    """Header names match whatever their case in the filter or in the event."""
    flt = compile_filter({"headers": {"X-GitHub-Event": "push", "x-trace.id": {"$exist": True}}})
    assert flt.matches({}, {"x-github-event": "push", "x-trace.id": "1"})
    assert flt.matches({}, {"X-Github-EVENT": "push", "X-Trace.Id": "1"})
    assert not flt.matches({}, {"x-github-event": "issues", "x-trace.id": "1"})
    assert not flt.matches({}, None)


def test_body_and_headers_must_both_hold() -> None:
    """A document with body and headers needs both to hold."""
    flt = compile_filter({"body": {"type": "invoice.paid"}, "headers": {"x-env": "prod"}})
    assert flt.matches(INVOICE, {"x-env": "prod"})
    assert not flt.matches(INVOICE, {"x-env": "test"})
    assert not flt.matches({"type": "other"}, {"x-env": "prod"})


@pytest.mark.parametrize("document", [None, {}, {"body": {}}, {"body": {}, "headers": {}}])
def test_empty_document_matches_everything(document: object) -> None:
    """No filter, or an empty one, passes every event."""
    flt = compile_filter(document)
    assert flt.matches(INVOICE)
    assert flt.matches([1, 2], {"a": "b"})
    assert flt.explain("anything") is None
    assert flt.document == document


def test_compile_cached_reuses_filters() -> None:
    """The same text compiles once; empty text matches everything."""
    text = json.dumps({"body": {"type": "invoice.paid"}})
    first = compile_cached(text)
    assert compile_cached(text) is first
    assert first.matches(INVOICE)
    assert first.document == {"body": {"type": "invoice.paid"}}
    assert compile_cached("").matches({})
    assert compile_cached("null").matches({})


def test_document_is_kept_as_json() -> None:
    """The compiled filter keeps its document in JSON form."""
    flt = compile_filter({"body": {"data.tags": {"$in": ("new",)}}})
    assert flt.document == {"body": {"data.tags": {"$in": ["new"]}}}
    assert "data.tags" in repr(flt)


# --- explain --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ({"data.amount": {"$gt": 10}}, "body.data.amount is 5, which is not $gt 10"),
        ({"data.kind": "x"}, "body.data.kind is missing"),
        ({"data.kind": {"$exist": True}}, "body.data.kind is missing"),
        ({"data.amount": {"$exist": False}}, "body.data.amount is 5, which is not $exist false"),
        ({"type": {"$in": ["a", "b"]}}, 'body.type is "invoice.paid", which is not $in ["a", "b"]'),
        (
            {"data.currency": {"$neq": "EUR"}},
            'body.data.currency is "EUR", which is not $neq "EUR"',
        ),
        (
            {"data.items.sku": "C"},
            'body.data.items.sku is ["A", "B"] (one per array element), which is not $eq "C"',
        ),
        (
            {"type": "invoice.paid", "data.amount": {"$gte": 1, "$lt": 3}},
            "body.data.amount is 5, which is not $lt 3",
        ),
        (
            {"$or": [{"type": "x"}, {"data.kind": "y"}]},
            'no $or alternative held (first: body.type is "invoice.paid", which is not $eq "x")',
        ),
        (
            {"$not": {"data.amount": 5}},
            'the condition under $not holds: {"data.amount": 5}',
        ),
        (
            {"data.amount": {"$not": {"$lt": 9}}},
            'body.data.amount is 5, which is not $not {"$lt": 9}',
        ),
    ],
)
def test_explain_names_first_failing_condition(condition: object, reason: str) -> None:
    """A failing filter explains itself by its first failing condition."""
    flt = body(condition)
    assert not flt.matches(INVOICE)
    assert flt.explain(INVOICE) == reason


def test_explain_is_none_when_matching() -> None:
    """A matching filter has nothing to explain."""
    assert body({"type": "invoice.paid"}).explain(INVOICE) is None


def test_explain_truncates_values() -> None:
    """Long values are cut to about forty characters in a reason."""
    payload = {"text": "x" * 1000, "nested": {"deep": list(range(1000))}}
    reason = body({"text": "y"}).explain(payload)
    assert reason is not None
    assert reason.startswith('body.text is "xxxxxxxx')
    assert "…" in reason
    assert len(reason) < 100
    reason = body({"nested": 1}).explain(payload)
    assert reason == 'body.nested is {"deep": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9,…, which is not $eq 1'


def test_explain_names_headers() -> None:
    """A failing header condition names the header in lower case."""
    flt = compile_filter({"headers": {"X-Env": "prod"}})
    assert flt.explain({}, {"X-ENV": "test"}) == 'headers.x-env is "test", which is not $eq "prod"'
    assert flt.explain({}) == "headers.x-env is missing"


# --- compile errors -------------------------------------------------------------------


def nested_and(levels: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"a": 1}
    for _ in range(levels):
        condition = {"$and": [condition]}
    return condition


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ([1], (), "must be an object"),
        ("{}", (), "must be an object"),
        ({"bogus": {}}, ("bogus",), "unknown key"),
        ({"body": [1]}, ("body",), "must be an object"),
        ({"body": {"a": {"$foo": 1}}}, ("body", "a", "$foo"), "unknown operator $foo"),
        ({"body": {"a": {"$ne": 1}}}, ("body", "a", "$ne"), "did you mean $neq"),
        ({"body": {"a": {"$exists": True}}}, ("body", "a", "$exists"), "did you mean $exist"),
        ({"body": {"$foo": 1}}, ("body", "$foo"), "unknown operator $foo"),
        ({"body": {"$gt": 1}}, ("body", "$gt"), "applies to a field"),
        ({"body": {"a": {"$and": [{}]}}}, ("body", "a", "$and"), "cannot apply to a field"),
        ({"body": {"a": {"$in": "x"}}}, ("body", "a", "$in"), "takes a list, not a string"),
        ({"body": {"a": {"$nin": {"x": 1}}}}, ("body", "a", "$nin"), "takes a list"),
        ({"body": {"$and": {"a": 1}}}, ("body", "$and"), "non-empty list"),
        ({"body": {"$or": []}}, ("body", "$or"), "non-empty list"),
        ({"body": {"$and": [{}, 3]}}, ("body", "$and", "1"), "must be an object, not a number"),
        ({"body": {"$not": [{}]}}, ("body", "$not"), "must be an object, not a list"),
        ({"body": {"a": {"$not": 5}}}, ("body", "a", "$not"), "takes operators"),
        ({"body": {"a": {"$regex": "(unclosed"}}}, ("body", "a", "$regex"), "bad regex: missing )"),
        ({"body": {"a": {"$regex": "(?=look)"}}}, ("body", "a", "$regex"), "bad regex"),
        ({"body": {"a": {"$regex": 5}}}, ("body", "a", "$regex"), "takes a string"),
        ({"body": {"a": {"$regex": "a" * 513}}}, ("body", "a", "$regex"), "longer than 512"),
        ({"body": {"a": {"$gt": [1]}}}, ("body", "a", "$gt"), "number or a string"),
        ({"body": {"a": {"$lte": True}}}, ("body", "a", "$lte"), "not a boolean"),
        ({"body": {"a": {"$exist": 1}}}, ("body", "a", "$exist"), "true or false"),
        ({"body": {"a..b": 1}}, ("body", "a..b"), "empty segment"),
        ({"body": {".a": 1}}, ("body", ".a"), "empty segment"),
        ({"body": {"a." * 40 + "a": 1}}, ("body", "a." * 40 + "a"), "more than 32 segments"),
        ({"headers": {"": "x"}}, ("headers", ""), "must not be empty"),
        ({"body": {"a": {"$in": list(range(257))}}}, ("body", "a", "$in"), "more than 256 items"),
        ({"body": {"x": "y" * 20_000}}, (), "over the limit of 16384"),
        ({"body": {"a": float("nan")}}, (), "must be JSON"),
        ({"body": {"a": {1, 2}}}, (), "must be JSON"),
    ],
)
def test_compile_error_names_its_place(
    document: object, path: tuple[str, ...], message: str
) -> None:
    """Each fault in a filter is refused with where it is and what is wrong."""
    with pytest.raises(FilterError) as error:
        compile_filter(document)
    assert error.value.path == path
    assert message in error.value.message


def test_too_deep_names_the_place() -> None:
    """Nesting past max_depth is refused where it goes too deep."""
    compile_filter({"body": nested_and(5)})
    with pytest.raises(FilterError) as error:
        compile_filter({"body": nested_and(6)})
    assert error.value.path == ("body", *("$and", "0") * 6)
    assert "deeper than 12" in error.value.message
    with pytest.raises(FilterError, match="deeper than 3"):
        compile_filter({"body": {"a": {"$eq": [[1]]}}}, Limits(max_depth=3))


def test_too_many_nodes_names_the_place() -> None:
    """A filter over max_nodes is refused at the first node past the limit."""
    fields = {f"f{n}": n for n in range(300)}
    with pytest.raises(FilterError) as error:
        compile_filter({"body": fields})
    assert error.value.path == ("body", "f255")
    assert "more than 256 nodes" in error.value.message
    compile_filter({"body": dict(list(fields.items())[:255])})


def test_hostile_nesting_is_refused() -> None:
    """Documents nested thousands deep are refused as errors, not crashes."""
    text = "[" * 5000 + "]" * 5000
    with pytest.raises(FilterError):
        compile_cached(text)
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(FilterError):
        compile_filter({"body": {"a": deep}})


@pytest.mark.parametrize("text", ["{", '{"body": NaN}', '{"body": {"a": Infinity}}'])
def test_compile_cached_refuses_bad_json(text: str) -> None:
    """Text that is not strict JSON is refused at the top of the document."""
    with pytest.raises(FilterError) as error:
        compile_cached(text)
    assert error.value.path == ()


def test_filter_error_is_a_validation_error() -> None:
    """FilterError is a ValueError and a hookline ValidationError carrying the path."""
    with pytest.raises(ValueError, match=r"body > a > \$in: \$in takes a list") as error:
        compile_filter({"body": {"a": {"$in": 1}}})
    assert isinstance(error.value, ValidationError)
    assert error.value.field == ("body", "a", "$in")


def test_limits_must_be_positive() -> None:
    """Limits refuse a zero or negative value."""
    with pytest.raises(ValueError, match="max_steps"):
        Limits(max_steps=0)


# --- bounded cost ---------------------------------------------------------------------


def test_step_budget_stops_costly_evaluation() -> None:
    """Past max_steps a filter does not match, and says the payload was too costly."""
    payload = {"items": [{"sku": str(n)} for n in range(1000)]}
    condition = {"items.sku": "999"}
    assert compile_filter({"body": condition}).matches(payload)
    tight = compile_filter({"body": condition}, Limits(max_steps=500))
    assert not tight.matches(payload)
    assert tight.explain(payload) == TOO_COSTLY


def test_default_budget_bounds_a_huge_array() -> None:
    """A payload array larger than the default budget is refused quickly."""
    payload = {"items": [{"sku": "x"}] * (DEFAULT_LIMITS.max_steps + 1)}
    flt = body({"items.sku": "y"})
    started = time.perf_counter()
    assert not flt.matches(payload)
    assert flt.explain(payload) == TOO_COSTLY
    assert time.perf_counter() - started < 1.0


def test_deep_and_odd_payloads_do_not_raise() -> None:
    """Very deep nesting, huge integers and lone surrogates evaluate without raising."""
    deep: Any = "end"
    for _ in range(100_000):
        deep = {"a": [deep]}
    odd = {"a": deep, "big": 10**5000, "s": "\ud800", "n": float("nan")}
    for condition in (
        {"a": {"$eq": {"a": [1]}}},
        {"a.a.a": 1},
        {"big": {"$gt": 1.5}},
        {"big": "x"},
        {"s": {"$regex": "."}},
        {"n": {"$in": [1, "x"]}},
    ):
        flt = body(condition)
        reason = flt.explain(odd)
        assert flt.matches(odd) is (reason is None)
        assert reason is None or reason.encode("utf-8")


# --- properties -----------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "0", "1"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, "x", "y", ""])
)
PAYLOADS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=25,
)
PATHS = st.lists(KEYS, min_size=1, max_size=3).map(".".join)
FIELD_SPECS = st.one_of(
    SCALARS,
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$eq", "$neq"]), SCALARS),
    st.builds(
        lambda op, v: {op: v}, st.sampled_from(["$in", "$nin"]), st.lists(SCALARS, max_size=3)
    ),
    st.builds(
        lambda op, v: {op: v},
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
        st.integers(-3, 3) | st.sampled_from(["x", "y"]),
    ),
    st.builds(lambda v: {"$exist": v}, st.booleans()),
    st.builds(lambda v: {"$regex": v}, st.sampled_from(["^x", "y$", "(?i)X", ""])),
)
CONDITIONS = st.recursive(
    st.dictionaries(PATHS, FIELD_SPECS, min_size=1, max_size=2),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"$and": parts}),
        st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"$or": parts}),
        inner.map(lambda part: {"$not": part}),
    ),
    max_leaves=6,
)


@given(CONDITIONS, PAYLOADS)
def test_not_is_negation(condition: dict[str, Any], payload: Any) -> None:
    """{"$not": f} matches exactly when f does not."""
    assert matches({"$not": condition}, payload) is not matches(condition, payload)


@given(CONDITIONS, CONDITIONS, PAYLOADS)
def test_and_or_are_conjunction_and_disjunction(
    first: dict[str, Any], second: dict[str, Any], payload: Any
) -> None:
    """$and is 'both' and $or is 'either', as the parts decide alone."""
    one, two = matches(first, payload), matches(second, payload)
    assert matches({"$and": [first, second]}, payload) is (one and two)
    assert matches({"$or": [first, second]}, payload) is (one or two)


@given(PATHS, SCALARS, PAYLOADS)
def test_in_singleton_is_eq_and_negations_agree(path: str, value: Any, payload: Any) -> None:
    """$in [x] is $eq x; $nin and $neq are their negations."""
    equal = matches({path: {"$eq": value}}, payload)
    assert matches({path: {"$in": [value]}}, payload) is equal
    assert matches({path: {"$neq": value}}, payload) is not equal
    assert matches({path: {"$nin": [value]}}, payload) is not equal


def present(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """Every (dotted path, value) reachable in a payload by keys and indexes."""
    found = [(".".join(prefix), value)] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += present(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += present(item, (*prefix, str(index)))
    return found


@given(st.dictionaries(KEYS, PAYLOADS, min_size=1, max_size=3), st.data())
def test_value_present_in_payload_matches(payload: dict[str, Any], data: st.DataObject) -> None:
    """A filter {path: value} built from a value in the payload matches it."""
    path, value = data.draw(st.sampled_from(present(payload)))
    assert matches({path: value}, payload)
    assert matches({path: {"$exist": True}}, payload)
    assert matches({path: {"$in": [value]}}, payload)


@given(CONDITIONS, PAYLOADS, st.integers(1, 60))
def test_explain_agrees_with_matches(condition: dict[str, Any], payload: Any, steps: int) -> None:
    """explain() is None exactly when matches() is true, within any budget."""
    for flt in (body(condition), compile_filter({"body": condition}, Limits(max_steps=steps))):
        assert (flt.explain(payload) is None) is flt.matches(payload)


@settings(deadline=None)
@given(CONDITIONS, JSON, st.dictionaries(st.text(max_size=4), st.text(max_size=4)))
def test_evaluation_never_raises(condition: dict[str, Any], payload: Any, headers: Any) -> None:
    """Any JSON payload and headers evaluate without raising."""
    flt = compile_filter({"body": condition, "headers": condition})
    assert flt.matches(payload, headers) is (flt.explain(payload, headers) is None)
    assert flt.matches({"a": payload, "b": [payload]}) in {True, False}


@given(JSON)
def test_compiling_arbitrary_json_raises_only_filter_errors(document: Any) -> None:
    """Compiling any JSON either succeeds or raises FilterError."""
    for candidate in (document, {"body": document}, {"body": {"a": document}}):
        with contextlib.suppress(FilterError):
            compile_filter(candidate)
