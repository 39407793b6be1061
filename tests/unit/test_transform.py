"""Declarative payload transformations (JMESPath): compile-time checks, results, bounds."""

from __future__ import annotations

import copy
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookline.domain.transform import (
    TransformError,
    TransformLimits,
    compile_cached,
    compile_transformation,
)

ORDER = {
    "type": "order.paid",
    "data": {
        "id": "ord_1",
        "amount": 1250,
        "currency": "EUR",
        "card": {"last4": "4242", "brand": "visa"},
        "customer": {"name": "Zoë Ølsen", "email": "zoe@example.com"},
        "items": [
            {"sku": "a", "qty": 1, "secret": "x"},
            {"sku": "b", "qty": 2, "secret": "y"},
        ],
    },
}


def apply(document: object, payload: object = ORDER) -> object:
    return compile_transformation(document).apply(payload).value


def compile_error(document: object, limits: TransformLimits | None = None) -> TransformError:
    with pytest.raises(TransformError) as caught:
        compile_transformation(document, limits or TransformLimits())
    return caught.value


def apply_error(document: object, payload: object = ORDER) -> TransformError:
    transformation = compile_transformation(document)
    with pytest.raises(TransformError) as caught:
        transformation.apply(payload)
    return caught.value


def dag(levels: int) -> str:
    """An expression whose result is a DAG with 2^levels paths to the payload."""
    return "|".join(["{a:@,b:@}"] * levels)


# --- reshaping -------------------------------------------------------------------------


def test_body_picks_renames_and_reshapes() -> None:
    """``body`` builds a new payload from the fields it picks."""
    body = (
        "{orderId: data.id, total: data.amount, customer: data.customer.name,"
        " skus: data.items[*].sku}"
    )
    assert apply({"body": body}) == {
        "orderId": "ord_1",
        "total": 1250,
        "customer": "Zoë Ølsen",
        "skus": ["a", "b"],
    }


def test_body_may_return_any_json_value() -> None:
    """The new payload need not be an object."""
    assert apply({"body": "data.items[?qty > `1`].sku"}) == ["b"]
    assert apply({"body": "sum(data.items[*].qty)"}) == 3
    assert apply({"body": "data.nothing"}) is None


def test_drop_removes_nested_fields_and_array_elements() -> None:
    """``drop`` removes dotted paths; numeric segments index arrays."""
    result = apply({"drop": ["data.card", "data.customer.email", "data.items.0.secret"]})
    assert result == {
        "type": "order.paid",
        "data": {
            "id": "ord_1",
            "amount": 1250,
            "currency": "EUR",
            "customer": {"name": "Zoë Ølsen"},
            "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2, "secret": "y"}],
        },
    }


def test_drop_can_remove_a_whole_array_element() -> None:
    """A path ending in an index removes that element."""
    assert apply({"drop": ["data.items.0"], "body": "@"})["data"]["items"] == [  # type: ignore[index]
        {"sku": "b", "qty": 2, "secret": "y"}
    ]


def test_drop_ignores_missing_paths() -> None:
    """A path that leads nowhere is no error and changes nothing."""
    paths = ["nope", "data.nope.deeper", "data.items.9", "data.items.x", "data.id.deeper", "type.0"]
    assert apply({"drop": paths}) == ORDER


def test_drop_and_rename_never_change_the_payload() -> None:
    """Edits copy what they change, so the caller's payload stays as it was."""
    before = copy.deepcopy(ORDER)
    apply({"drop": ["data.card.last4", "data.items.1.secret"], "rename": {"data.id": "id"}})
    assert before == ORDER


def test_drop_on_a_shared_object_changes_only_that_path() -> None:
    """A result that holds the same object twice is edited as the tree it serialises to."""
    result = apply({"body": "{a: data.card, b: data.card}", "drop": ["a.last4"]})
    assert result == {"a": {"brand": "visa"}, "b": {"last4": "4242", "brand": "visa"}}


def test_rename_moves_fields_and_creates_objects() -> None:
    """``rename`` moves a value, creating the objects on the way; a missing source is skipped."""
    result = apply(
        {
            "body": "data",
            "rename": {"amount": "total.value", "currency": "total.currency", "ghost": "x"},
        }
    )
    assert result == {
        "id": "ord_1",
        "card": {"last4": "4242", "brand": "visa"},
        "customer": {"name": "Zoë Ølsen", "email": "zoe@example.com"},
        "items": [{"sku": "a", "qty": 1, "secret": "x"}, {"sku": "b", "qty": 2, "secret": "y"}],
        "total": {"value": 1250, "currency": "EUR"},
    }


def test_order_is_body_then_drop_then_rename() -> None:
    """``drop`` sees the body's result, and ``rename`` sees what ``drop`` left."""
    document = {
        "body": "{id: data.id, amount: data.amount, card: data.card}",
        "drop": ["card.brand"],
        "rename": {"card.last4": "last4", "card": "leftover"},
    }
    assert apply(document) == {"id": "ord_1", "amount": 1250, "last4": "4242", "leftover": {}}


def test_rename_into_a_string_fails_at_run_time() -> None:
    """A destination that runs through a non-object is a run-time error naming the rename."""
    error = apply_error({"rename": {"data.id": "type.inner"}})
    assert error.path == ("rename", "data.id")
    assert "not an object" in error.message


def test_rename_into_an_array_element() -> None:
    """A numeric segment writes into an existing array element."""
    result = apply({"body": "data.items", "rename": {"0.sku": "1.was"}})
    assert result == [{"qty": 1, "secret": "x"}, {"sku": "b", "qty": 2, "secret": "y", "was": "a"}]


# --- headers ---------------------------------------------------------------------------


def test_static_and_computed_headers() -> None:
    """Static headers are copied; expressions on the original payload are rendered."""
    transformation = compile_transformation(
        {
            "body": "{id: data.id}",
            "headers": {"X-Tenant": "acme"},
            "headerExpressions": {
                "X-Order-Id": "data.id",
                "X-Amount": "data.amount",
                "X-Gift": "`false`",
                "X-Ratio": "`0.5`",
                "X-Missing": "data.nothing",
                "X-Null": "`null`",
            },
        }
    )
    result = transformation.apply(ORDER)
    assert result.headers == {
        "X-Tenant": "acme",
        "X-Order-Id": "ord_1",
        "X-Amount": "1250",
        "X-Gift": "false",
        "X-Ratio": "0.5",
    }


def test_header_expression_yielding_an_object_fails() -> None:
    """Objects and arrays are not header values."""
    error = apply_error({"headerExpressions": {"X-Card": "data.card"}})
    assert error.path == ("headerExpressions", "X-Card")
    error = apply_error({"headerExpressions": {"X-Skus": "data.items[*].sku"}})
    assert "array" in error.message


def test_header_expression_yielding_crlf_fails() -> None:
    """A computed value is checked like a static one."""
    error = apply_error({"headerExpressions": {"X-Evil": "v"}}, {"v": "a\r\nHost: evil"})
    assert error.path == ("headerExpressions", "X-Evil")
    assert "CR" in error.message


# --- compile errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "position"),
    [("data.[", 6), ("{a: }", 4), ("a ~ b", 2), ("`1", 0), ("foo(", 4)],
)
def test_syntax_error_gives_its_position(expression: str, position: int) -> None:
    """A JMESPath syntax error names the field and the column."""
    error = compile_error({"body": expression})
    assert error.path == ("body",)
    assert error.position == position


@pytest.mark.parametrize(
    ("document", "path", "words"),
    [
        ([], (), "JSON object"),
        ({"bodyy": "a"}, ("bodyy",), "unknown field"),
        ({"body": 1}, ("body",), "must be a string"),
        ({"body": ""}, ("body",), "empty"),
        ({"body": "nope(a)"}, ("body",), "unknown function nope()"),
        ({"body": "abs(a, b)"}, ("body",), "abs() takes 1 argument, got 2"),
        ({"body": "not_null()"}, ("body",), "at least 1 argument"),
        ({"body": "`1e999`"}, ("body",), "not a JSON number"),
        ({"body": "`raw`"}, ("body",), "must be JSON"),
        ({"body": "a[::0]"}, ("body",), "zero"),
        ({"body": "a" * 4097}, ("body",), "longer than 4096"),
        ({"body": "(" * 2000 + "a" + ")" * 2000}, ("body",), "nests"),
        ({"body": "|".join(["a"] * 101)}, ("body",), "nests deeper than 100"),
        ({"drop": "data.card"}, ("drop",), "array"),
        ({"drop": ["ok", 1]}, ("drop", "1"), "dotted path"),
        ({"drop": ["ok", "a..b"]}, ("drop", "1"), "empty segment"),
        ({"drop": [""]}, ("drop", "0"), "dotted path"),
        ({"drop": ["a"] * 65}, ("drop",), "more than 64"),
        ({"rename": ["a"]}, ("rename",), "object"),
        ({"rename": {"a": 2}}, ("rename", "a"), "dotted path"),
        ({"rename": {"a.": "b"}}, ("rename", "a."), "empty segment"),
        ({"headers": "X-A: 1"}, ("headers",), "object"),
        ({"headers": {"X-A": 1}}, ("headers", "X-A"), "string"),
        ({"headers": {"X A": "1"}}, ("headers", "X A"), "header name"),
        ({"headers": {"": "1"}}, ("headers", ""), "header name"),
        ({"headers": {"Content-Type": "text/plain"}}, ("headers", "Content-Type"), "reserved"),
        ({"headers": {"host": "evil"}}, ("headers", "host"), "reserved"),
        ({"headers": {"User-Agent": "x"}}, ("headers", "User-Agent"), "reserved"),
        ({"headers": {"Content-Length": "1"}}, ("headers", "Content-Length"), "reserved"),
        ({"headers": {"Webhook-Id": "x"}}, ("headers", "Webhook-Id"), "reserved"),
        ({"headers": {"svix-signature": "x"}}, ("headers", "svix-signature"), "reserved"),
        ({"headers": {"Transfer-Encoding": "x"}}, ("headers", "Transfer-Encoding"), "reserved"),
        ({"headers": {"X-A": "a\r\nb"}}, ("headers", "X-A"), "CR, LF"),
        ({"headers": {"X-A": "a\nb"}}, ("headers", "X-A"), "CR, LF"),
        ({"headers": {"X-A": "v" * 1025}}, ("headers", "X-A"), "longer than 1024"),
        ({"headers": {f"X-{i}": "v" for i in range(33)}}, ("headers",), "more than 32"),
        (
            {
                "headers": {f"X-{i}": "v" for i in range(20)},
                "headerExpressions": {f"Y-{i}": "a" for i in range(13)},
            },
            ("headers",),
            "more than 32",
        ),
        (
            {"headers": {"x-a": "1"}, "headerExpressions": {"X-A": "a"}},
            ("headerExpressions", "X-A"),
            "twice",
        ),
        ({"headerExpressions": {"X-A": "a.["}}, ("headerExpressions", "X-A"), "incomplete"),
        ({"headerExpressions": {"X-A": 3}}, ("headerExpressions", "X-A"), "must be a string"),
        ({"headerExpressions": {"svix-id": "a"}}, ("headerExpressions", "svix-id"), "reserved"),
    ],
)
def test_compile_errors_name_the_field(document: object, path: tuple[str, ...], words: str) -> None:
    """Every invalid document is refused at save time, naming the field at fault."""
    error = compile_error(document)
    assert error.path == path
    assert words in error.message
    assert str(error).startswith(".".join(path))


def test_limits_are_configurable() -> None:
    """Tighter limits refuse what the defaults accept."""
    limits = TransformLimits(max_expression_length=10, max_paths=1)
    assert "longer than 10" in compile_error({"body": "data.customer.name"}, limits).message
    assert "more than 1" in compile_error({"drop": ["a", "b"]}, limits).message


def test_document_is_kept_as_a_copy() -> None:
    """The compiled transformation keeps a JSON copy of the document it was given."""
    document = {"body": "data", "drop": ["id"], "headers": {"X-A": "1"}}
    transformation = compile_transformation(document)
    document["drop"].append("card")  # type: ignore[attr-defined]
    assert transformation.document == {"body": "data", "drop": ["id"], "headers": {"X-A": "1"}}
    assert transformation.apply(ORDER).value == apply({"body": "data", "drop": ["id"]})


def test_compile_cached_reuses_the_compiled_document() -> None:
    """The stored JSON text is compiled once; invalid text is a TransformError."""
    text = '{"body": "data.id"}'
    assert compile_cached(text) is compile_cached(text)
    assert compile_cached(text).apply(ORDER).value == "ord_1"
    with pytest.raises(TransformError, match="not valid JSON"):
        compile_cached("{body")


# --- run-time errors and bounds --------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("sum(data.items[*].sku)", "sum() expects array-number, got string"),
        ("abs(data.id)", "abs() expects number"),
        ("max_by(@, &v)", "evaluation failed"),
        ("to_number('nan')", "not a JSON number"),
        ("ceil(to_number('1e999'))", "evaluation failed"),
        ("sum([`1e308`, `1e308`])", "not a JSON number"),
    ],
)
def test_run_time_errors_are_transform_errors(expression: str, words: str) -> None:
    """Type errors and non-JSON results raise TransformError naming ``body``."""
    payload = {**ORDER, "v": 1}
    if expression.startswith("max_by"):
        payload = [{"v": 1}, {"v": "x"}]  # type: ignore[assignment]
    error = apply_error({"body": expression}, payload)
    assert error.path == ("body",)
    assert words in error.message


def test_type_error_message_does_not_print_the_value() -> None:
    """The message stays short even when the offending value is an exponential DAG."""
    error = apply_error({"body": dag(40) + "| sum(@)"}, {"x": 1})
    assert "expects array-number" in error.message
    assert len(str(error)) < 200


@pytest.mark.parametrize("levels", [20, 64])
def test_exponential_output_is_refused_promptly(levels: int) -> None:
    """A result that would serialise to 2^n copies of the payload fails well under a second."""
    transformation = compile_transformation({"body": dag(levels)})
    started = time.perf_counter()
    with pytest.raises(TransformError, match="output exceeds 1048576 bytes"):
        transformation.apply_bytes(b'{"hello": "world"}')
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "tail",
    [
        "to_string(@)",  # serialises the DAG
        ".".join(["*"] * 40),  # projects over every path
        "sort_by([@.a, @.b], &to_string(@))",
        "values(@) | [0] == [1]",  # compares two equal DAGs
        "contains([@.a], @.b)",
        "map(&to_string(@), [@.a, @.b])",
    ],
)
def test_exponential_work_is_bounded(tail: str) -> None:
    """Work exponential in the expression's length stops at the cost or size limit.

    Unbounded, each of these would do 2**40 steps and never return: that the error comes
    back at all is the proof (no wall-clock bound: it would only measure the machine)."""
    body = "{a: {k: `1`} | " + dag(40) + ", b: {k: `1`} | " + dag(40) + "} | " + tail
    transformation = compile_transformation({"body": body})
    with pytest.raises(TransformError, match=r"cost limit|exceeds"):
        transformation.apply({"x": 1})


def test_repeated_doubling_is_bounded() -> None:
    """Flattening a list of itself again and again stops at the cost limit."""
    body = "|".join(["[@, @, @, @, @, @, @, @] | []"] * 30)
    with pytest.raises(TransformError, match="cost limit"):
        compile_transformation({"body": body}).apply([1])
    body = "|".join(["[@, @, @, @, @, @, @, @] | join('', @)"] * 30)
    with pytest.raises(TransformError, match="exceeds"):
        compile_transformation({"body": body}).apply("abcdefgh")


def test_cost_limit_is_per_application() -> None:
    """Each application starts with a fresh budget, shared by body and header expressions."""
    limits = TransformLimits(max_cost=40)
    transformation = compile_transformation(
        {"body": "[*].{a: a}", "headerExpressions": {"X-N": "length(@)"}}, limits
    )
    payload = [{"a": i} for i in range(5)]
    for _ in range(3):
        assert transformation.apply(payload).headers == {"X-N": "5"}
    with pytest.raises(TransformError, match="cost limit"):
        transformation.apply([{"a": i} for i in range(20)])


def test_output_limit_is_configurable() -> None:
    """``max_output_bytes`` bounds the output."""
    transformation = compile_transformation(
        {"body": "[@, @, @]"}, TransformLimits(max_output_bytes=100)
    )
    assert transformation.apply("x" * 20).value == ["x" * 20] * 3
    with pytest.raises(TransformError, match="output exceeds 100 bytes"):
        transformation.apply("x" * 40)


def test_payload_that_is_not_json_is_refused() -> None:
    """Invalid bytes, NaN, non-string keys and foreign types are TransformErrors."""
    transformation = compile_transformation({"body": "@"})
    with pytest.raises(TransformError, match="not valid JSON"):
        transformation.apply_bytes(b"{nope")
    for payload in [float("nan"), {1: "a"}, (1, 2), 2**70]:
        with pytest.raises(TransformError):
            transformation.apply(payload)


# --- bytes -----------------------------------------------------------------------------


def test_apply_bytes_returns_valid_json_and_keeps_non_ascii() -> None:
    """The new body is compact UTF-8 JSON; non-ASCII text is kept, not escaped."""
    transformation = compile_transformation({"body": "{name: data.customer.name, e: '€'}"})
    result = transformation.apply_bytes(orjson.dumps(ORDER))
    assert orjson.loads(result.body) == {"name": "Zoë Ølsen", "e": "€"}
    assert "Zoë Ølsen".encode() in result.body
    assert result.value == {"name": "Zoë Ølsen", "e": "€"}


def test_to_string_matches_jmespath() -> None:
    """``to_string`` still writes JSON the way JMESPath does."""
    assert apply({"body": "to_string(data.card)"}) == '{"last4":"4242","brand":"visa"}'


def test_empty_document_returns_the_same_value_and_bytes() -> None:
    """The empty document changes nothing: same value, and the very same bytes."""
    transformation = compile_transformation({})
    assert transformation.apply(ORDER).value is ORDER
    raw = b'{ "spaced" : [1, 2.50, "\\u00e9"] }'
    result = transformation.apply_bytes(raw)
    assert result.body == raw
    assert result.value == {"spaced": [1, 2.5, "é"]}
    assert result.headers == {}


def test_headers_only_document_keeps_the_bytes() -> None:
    """A document that only adds headers does not rewrite the body."""
    raw = b'{"data": {"id": "ord_1"}}'
    result = compile_transformation({"headers": {"X-A": "1"}}).apply_bytes(raw)
    assert result.body == raw
    assert result.headers == {"X-A": "1"}


# --- properties ------------------------------------------------------------------------

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    SCALARS | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(["a", "b", "c"])
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=20,
)


@given(JSON)
def test_identity_body_returns_the_payload(payload: object) -> None:
    """``{"body": "@"}`` gives back the payload, as a value and through bytes."""
    transformation = compile_transformation({"body": "@"})
    assert transformation.apply(payload).value == payload
    assert orjson.loads(transformation.apply_bytes(orjson.dumps(payload)).body) == payload


_MISSING = object()


def lookup(value: object, path: list[str]) -> object:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


@given(NESTED, st.lists(KEYS, min_size=1, max_size=4))
def test_dropped_path_is_gone(payload: object, path: list[str]) -> None:
    """After dropping a path, looking it up finds nothing, and the payload is unchanged."""
    before = copy.deepcopy(payload)
    result = apply({"drop": [".".join(path)]}, payload)
    assert lookup(result, path) is _MISSING
    assert payload == before


EXPRESSIONS = [
    "@",
    "a.b.c",
    "[*].a",
    "*.a",
    "[0]",
    "[-1:]",
    "[]",
    "a || b",
    "!a",
    "sum(@)",
    "avg(@)",
    "length(@)",
    "to_string(@)",
    "to_number(@)",
    "to_array(@)",
    "abs(@)",
    "ceil(@)",
    "floor(@)",
    "sort(@)",
    "reverse(@)",
    "keys(@)",
    "values(@)",
    "merge(@, `{}`)",
    "max(@)",
    "min(@)",
    "max_by(@, &a)",
    "min_by(@, &a)",
    "sort_by(@, &a)",
    "map(&a, @)",
    "join(',', @)",
    "contains(@, `1`)",
    "contains(@, 'a')",
    "starts_with(@, 'a')",
    "ends_with(@, 'a')",
    "not_null(a, @)",
    "type(@)",
    "@ == @",
    "@ < `1`",
    "[?a > `0`]",
    "{x: a, y: [@, @]}",
    "[@, @] | [] | [] | to_string(@)",
]


@settings(max_examples=200)
@given(JSON, st.sampled_from(EXPRESSIONS))
def test_apply_raises_only_transform_errors(payload: object, expression: str) -> None:
    """On any JSON payload, applying a document either works or raises TransformError."""
    transformation = compile_transformation(
        {"body": expression, "headerExpressions": {"X-Value": expression}, "drop": ["a.0"]}
    )
    try:
        result = transformation.apply(payload)
    except TransformError:
        return
    assert orjson.loads(result.body) == result.value
