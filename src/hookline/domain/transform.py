"""Declarative payload transformations: reshape a JSON payload with JMESPath. Pure, no I/O.

An endpoint may carry a transformation that reshapes each event's payload before it
is signed and sent; event types use the same engine to turn a payload into an older
version's shape. The document is a JSON object, every key optional, applied in order:

- ``body``: a JMESPath expression on the payload; its result becomes the new payload.
- ``drop``: dotted paths removed from the result, one after another; missing paths
  are ignored; numeric segments index arrays (``items.0.card``).
- ``rename``: ``{"from.path": "to.path"}``; moves a field, creating missing objects on
  the way; a missing source is ignored.
- ``headers``: static request headers.
- ``headerExpressions``: header name -> JMESPath expression on the *original* payload.
  Strings are used as they are, numbers and booleans as JSON, null omits the header,
  objects and arrays are an error.

The authors are untrusted tenants. JMESPath runs no user code and has no loops or
recursion, so for a fixed expression the cost is polynomial in the payload; but it can
be exponential in the *expression's* length: ``{a:@,b:@}`` repeated n times builds, in
n steps, a DAG with 2^n paths, and serialising it, projecting over it (``*.*``),
comparing it (``==``, ``contains``) or ``to_string``-ing it walks every path, and
``[@,@] | []`` repeated doubles a list each time. So expressions run in an interpreter
that charges every node it visits, every element it copies or compares and every 16
characters it scans or builds against ``TransformLimits.max_cost``; strings built and
the output are capped at ``max_output_bytes``; and the output's size is measured by a
walk that stops as soon as it passes the cap, before anything is serialised.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import jmespath
import orjson
from jmespath import exceptions as jmes_errors
from jmespath import functions as jmes_functions
from jmespath.visitor import Options, TreeInterpreter

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult
    from jmespath.visitor import _TreeNode

MAX_HEADERS: Final = 32
MAX_HEADER_VALUE_LENGTH: Final = 1024
MAX_HEADER_NAME_LENGTH: Final = 256
MAX_PATH_LENGTH: Final = 1024

#: Headers the platform sets itself, plus the hop-by-hop ones that would change how the
#: request is framed or carried.
RESERVED_HEADERS: Final = frozenset({
    "content-type", "content-length", "host", "user-agent",
    "connection", "expect", "keep-alive", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade",
})  # fmt: skip
RESERVED_HEADER_PREFIXES: Final = ("webhook-", "svix-")

_FIELDS: Final = ("body", "drop", "rename", "headers", "headerExpressions")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
_INT_MIN: Final = -(2**63)  # orjson writes integers in [-2^63, 2^64)
_INT_END: Final = 2**64
_CHARS_PER_UNIT: Final = 16
_MISSING: Final = object()

Path = tuple[str, ...]
_Segment = tuple[str, int | None]  # the key, and the index when the key is a number
_Paths = tuple[tuple[_Segment, ...], ...]
_Moves = tuple[tuple[str, tuple[_Segment, ...], tuple[_Segment, ...]], ...]
_Expressions = tuple[tuple[str, "ParsedResult"], ...]


class TransformError(ValueError):
    """A transformation document is invalid, or applying it failed.

    ``path`` names the field of the document at fault, e.g. ``("body",)``,
    ``("headers", "X-Tenant")`` or ``("drop", "1")``; it is empty when the payload
    itself is at fault. ``position`` is the column of an expression's syntax error.
    """

    def __init__(self, path: Path, message: str, position: int | None = None) -> None:
        self.path = path
        self.message = message
        self.position = position
        where = ".".join(path)
        super().__init__(f"{where}: {message}" if where else message)


class CostExceeded(TransformError):
    """The cost budget ran out while applying (a run-time ``TransformError``)."""


@dataclass(frozen=True, slots=True)
class TransformLimits:
    """Bounds on a document (checked when it is compiled) and on one application."""

    max_expression_length: int = 4096
    max_output_bytes: int = 1_048_576
    #: Entries in ``drop``, and in ``rename``.
    max_paths: int = 64
    #: Work units per application (body and header expressions together): a node
    #: visited, an element copied or compared, or 16 characters scanned or built.
    #: Picking 5 fields from each of 10,000 array elements costs about 130,000; the
    #: slowest expressions take about 1 µs per unit.
    max_cost: int = 250_000
    #: Depth of an expression's syntax tree (``a | b | c`` nests too); keeps the
    #: recursive evaluator well inside Python's recursion limit.
    max_nesting: int = 100


DEFAULT_LIMITS: Final = TransformLimits()


@dataclass(frozen=True, slots=True)
class TransformResult:
    """The new payload (as JSON bytes and as a value) and the headers to add.

    ``value`` may share objects with the payload it came from: treat it as read-only.
    """

    body: bytes
    value: object
    headers: dict[str, str]


class _EvalError(Exception):
    """Internal: evaluation stopped; the caller turns it into a ``TransformError``."""


class _OverBudget(_EvalError):
    """Internal: the cost budget ran out (``CostExceeded`` once it reaches the caller)."""


class _Budget:
    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit

    def charge(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise _OverBudget(f"evaluation exceeds the cost limit ({self.limit} steps)")


def _weight(value: object) -> int:
    """The cost of scanning a function argument once."""
    if isinstance(value, (list, dict)):
        return len(value)
    if isinstance(value, str):
        return len(value) // _CHARS_PER_UNIT
    return 0


def _string_size(text: str) -> int:
    return len(text) + 2 if text.isascii() else len(text.encode("utf-8", "surrogatepass")) + 2


def _scalar_size(item: object) -> int:
    if item is None or isinstance(item, bool):
        return 5
    if isinstance(item, int):
        if not _INT_MIN <= item < _INT_END:
            raise _EvalError("integer out of the 64-bit range")
        return item.bit_length() * 30103 // 100_000 + 2  # digits, sign
    if isinstance(item, float):
        if not math.isfinite(item):
            raise _EvalError(f"{item} is not a JSON number")
        return 24  # the longest shortest repr, e.g. -1.2345678901234567e-308
    raise _EvalError(f"a {type(item).__name__} is not JSON")


def _json_size(value: object, limit: int, budget: _Budget | None = None) -> int:
    """Estimated size of ``value`` as compact JSON; stops as soon as it passes ``limit``.

    Shared sub-objects count once per reference, as serialising would, but the walk
    stops early, so a small DAG that would serialise to gigabytes costs about ``limit``
    steps. Strings count exactly (their escapes aside), numbers by an upper bound.
    Raises ``_EvalError`` for anything that is not JSON (NaN, a tuple, a non-string key).
    """
    total = 0
    stack: list[dict[object, object] | list[object]] = []
    items: Iterable[object] = (value,)
    while True:
        for item in items:
            if isinstance(item, str):
                # isascii() is O(1) in CPython; other text is measured as UTF-8.
                total += len(item) + 2 if item.isascii() else _string_size(item)
            elif isinstance(item, (dict, list)):
                stack.append(item)
            else:
                total += _scalar_size(item)
            if total > limit:
                raise _EvalError(f"output exceeds {limit} bytes")
        if not stack:
            return total
        container = stack.pop()
        if budget is not None:
            budget.charge(1 + len(container))
        if isinstance(container, dict):
            total += 2 + 2 * len(container)
            for key in container:
                if not isinstance(key, str):
                    raise _EvalError(f"object key {key!r} is not a string")
                total += len(key) + 2 if key.isascii() else _string_size(key)
            items = container.values()
        else:
            total += 2 + len(container)
            items = container


def _json_equal(left: object, right: object, budget: _Budget) -> bool:
    """Python's ``==`` on JSON values, iterative and charged per pair compared."""
    stack = [(left, right)]
    while stack:
        a, b = stack.pop()
        budget.charge(1)
        if a is b and not isinstance(a, float):
            continue
        if isinstance(a, dict):
            if not isinstance(b, dict) or len(a) != len(b):
                return False
            for key, value in a.items():
                other = b.get(key, _MISSING)
                if other is _MISSING:
                    return False
                stack.append((value, other))
        elif isinstance(a, list):
            if not isinstance(b, list) or len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif isinstance(b, (dict, list)):
            return False
        else:
            if isinstance(a, str):
                budget.charge(len(a) // _CHARS_PER_UNIT)
            if a != b:
                return False
    return True


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Functions(jmes_functions.Functions):
    """JMESPath's built-in functions, charged to a budget; the ones that can blow up
    (``to_string``, ``join``, ``contains``) are bounded."""

    def __init__(self, budget: _Budget, max_bytes: int) -> None:
        self._budget = budget
        self._max_bytes = max_bytes

    def call_function(self, function_name: str, resolved_args: Iterable[Any]) -> Any:
        args = list(resolved_args)
        self._budget.charge(1 + sum(_weight(arg) for arg in args))
        return super().call_function(function_name, args)

    @jmes_functions.signature({"types": []})
    def _func_to_string(self, arg: object) -> str:
        if isinstance(arg, str):
            return arg
        size = _json_size(arg, self._max_bytes, self._budget)
        self._budget.charge(size // _CHARS_PER_UNIT)
        return json.dumps(arg, separators=(",", ":"))

    @jmes_functions.signature({"types": ["string"]}, {"types": ["array-string"]})
    def _func_join(self, separator: str, array: list[str]) -> str:
        size = sum(map(len, array)) + len(separator) * max(len(array) - 1, 0)
        if size > self._max_bytes:
            raise _EvalError(f"join() result exceeds {self._max_bytes} characters")
        self._budget.charge(size // _CHARS_PER_UNIT)
        return separator.join(array)

    @jmes_functions.signature({"types": ["array", "string"]}, {"types": []})
    def _func_contains(self, subject: list[object] | str, search: object) -> bool:
        if isinstance(subject, str):
            return isinstance(search, str) and search in subject
        return any(_json_equal(item, search, self._budget) for item in subject)


_ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "lt": operator.lt,
    "gt": operator.gt,
    "lte": operator.le,
    "gte": operator.ge,
}


class _Interpreter(TreeInterpreter):
    """JMESPath's tree interpreter with every step charged to a budget."""

    def __init__(self, budget: _Budget, max_bytes: int) -> None:
        super().__init__(Options(custom_functions=_Functions(budget, max_bytes)))
        self._budget = budget
        self._methods: dict[str, Callable[..., Any]] = {}

    def visit(self, node: _TreeNode, *args: Any, **kwargs: Any) -> Any:
        # Visitor.visit with the charge inlined: one Python frame less per node.
        budget = self._budget
        budget.left -= 1
        if budget.left < 0:
            budget.charge(0)
        kind = node["type"]
        method = self._methods.get(kind)
        if method is None:
            method = self._methods[kind] = getattr(self, f"visit_{kind}", self.default_visit)
        return method(node, *args, **kwargs)

    def visit_comparator(self, node: _TreeNode, value: Any) -> Any:
        left = self.visit(node["children"][0], value)
        right = self.visit(node["children"][1], value)
        op = node["value"]
        if op in {"eq", "ne"}:
            # As JMESPath: 0 and 1 are not equal to false and true (at the top level).
            if (_is_number(left) and isinstance(right, bool)) or (
                _is_number(right) and isinstance(left, bool)
            ):
                equal = False
            else:
                equal = _json_equal(left, right, self._budget)
            return equal if op == "eq" else not equal
        if _is_number(left) and _is_number(right):
            return _ORDERING[op](left, right)
        if isinstance(left, str) and isinstance(right, str):
            self._budget.charge(min(len(left), len(right)) // _CHARS_PER_UNIT)
            return _ORDERING[op](left, right)
        return None

    def visit_flatten(self, node: _TreeNode, value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if not isinstance(base, list):
            return None
        self._budget.charge(sum(len(item) if isinstance(item, list) else 1 for item in base))
        merged: list[object] = []
        for item in base:
            if isinstance(item, list):
                merged.extend(item)
            else:
                merged.append(item)
        return merged

    def visit_slice(self, node: _TreeNode, value: Any) -> Any:
        if not isinstance(value, list):
            return None
        window = slice(*cast("list[int | None]", node["children"]))
        self._budget.charge(len(range(len(value))[window]))
        return value[window]


def _type_error_message(error: jmes_errors.JMESPathTypeError) -> str:
    # Not str(error): that prints the offending value, which may be a huge DAG.
    expected = ", ".join(error.expected_types)
    actual = jmes_functions.TYPES_MAP.get(error.actual_type, error.actual_type)
    return f"{error.function_name}() expects {expected}, got {actual}"


def _evaluate(
    expression: ParsedResult, data: object, budget: _Budget, max_bytes: int, path: Path
) -> object:
    try:
        return _Interpreter(budget, max_bytes).visit(expression.parsed, data)
    except _OverBudget as error:
        raise CostExceeded(path, str(error)) from None
    except _EvalError as error:
        raise TransformError(path, str(error)) from None
    except jmes_errors.JMESPathTypeError as error:
        raise TransformError(path, _type_error_message(error)) from None
    except (jmes_errors.JMESPathError, ArithmeticError, TypeError, ValueError) as error:
        raise TransformError(path, f"evaluation failed: {error}") from None
    except RecursionError:
        raise TransformError(path, "evaluation nests too deeply") from None


# --- compiling -------------------------------------------------------------------------


def _arguments(count: int) -> str:
    return "1 argument" if count == 1 else f"{count} arguments"


def _check_tree(tree: _TreeNode, path: Path, limits: TransformLimits) -> None:
    """What JMESPath only finds out when it runs (or never): unknown functions, wrong
    arity, non-finite literals, a zero slice step; and the nesting bound."""
    table = _Functions.FUNCTION_TABLE
    stack: list[tuple[_TreeNode, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_nesting:
            raise TransformError(path, f"expression nests deeper than {limits.max_nesting}")
        kind = node["type"]
        if kind == "function_expression":
            name, count = node["value"], len(node["children"])
            if name not in table:
                raise TransformError(path, f"unknown function {name}()")
            signature = table[name]["signature"]
            if signature and signature[-1].get("variadic"):
                if count < len(signature):
                    raise TransformError(
                        path, f"{name}() takes at least {_arguments(len(signature))}, got {count}"
                    )
            elif count != len(signature):
                raise TransformError(
                    path, f"{name}() takes {_arguments(len(signature))}, got {count}"
                )
        elif kind == "literal":
            try:
                _json_size(node["value"], limits.max_output_bytes)
            except _EvalError as error:
                raise TransformError(path, f"literal: {error}") from None
        elif kind == "slice":
            if cast("list[int | None]", node["children"])[2] == 0:
                raise TransformError(path, "slice step cannot be zero")
            continue  # its children are numbers
        stack.extend((child, depth + 1) for child in node["children"])


def _compile_expression(text: object, path: Path, limits: TransformLimits) -> ParsedResult:
    # catch_warnings swaps the process's warning filters for a moment: fine at save time.
    if not isinstance(text, str):
        raise TransformError(path, "must be a string (a JMESPath expression)")
    if len(text) > limits.max_expression_length:
        raise TransformError(path, f"longer than {limits.max_expression_length} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PendingDeprecationWarning)
            parsed = jmespath.compile(text)
    except PendingDeprecationWarning:
        message = "a `literal` must be JSON: write a string as 'text' or `\"text\"`"
        raise TransformError(path, message) from None
    except jmes_errors.EmptyExpressionError:
        raise TransformError(path, "the expression is empty") from None
    except jmes_errors.IncompleteExpressionError:
        at = len(text)
        raise TransformError(path, f"incomplete expression at column {at}", at) from None
    except jmes_errors.LexerError as error:
        at = error.lexer_position
        raise TransformError(path, f"{error.message} at column {at}", at) from None
    except jmes_errors.ParseError as error:
        at = error.lex_position
        message = f"unexpected {error.token_value!r} at column {at}: {error.msg}"
        raise TransformError(path, message, at) from None
    except RecursionError:
        raise TransformError(path, "expression nests too deeply") from None
    except jmes_errors.JMESPathError as error:
        raise TransformError(path, f"invalid expression: {error}") from None
    _check_tree(parsed.parsed, path, limits)
    return parsed


def _compile_path(raw: object, path: Path) -> tuple[_Segment, ...]:
    if not isinstance(raw, str) or not raw:
        raise TransformError(path, "must be a non-empty dotted path")
    if len(raw) > MAX_PATH_LENGTH:
        raise TransformError(path, f"longer than {MAX_PATH_LENGTH} characters")
    parts = raw.split(".")
    if "" in parts:
        raise TransformError(path, f"{raw!r} has an empty segment")
    return tuple((part, int(part) if _INDEX.fullmatch(part) else None) for part in parts)


def _check_header_name(name: str, path: Path, seen: set[str]) -> None:
    lowered = name.lower()
    if len(name) > MAX_HEADER_NAME_LENGTH or not _HEADER_NAME.fullmatch(name):
        raise TransformError(path, "not a valid header name")
    if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIXES):
        raise TransformError(path, "reserved header: the platform sets it")
    if lowered in seen:
        raise TransformError(path, "header given twice")
    seen.add(lowered)


def _header_value_problem(value: str) -> str | None:
    if len(value) > MAX_HEADER_VALUE_LENGTH:
        return f"header value longer than {MAX_HEADER_VALUE_LENGTH} characters"
    if _BAD_HEADER_VALUE.search(value):
        return "header value contains CR, LF or NUL"
    return None


def _object_field(document: dict[str, object], field: str) -> dict[str, object]:
    value = document.get(field, {})
    if not isinstance(value, dict):
        raise TransformError((field,), "must be an object")
    if not all(isinstance(key, str) for key in value):
        raise TransformError((field,), "keys must be strings")
    return value


def _compile_drop(document: dict[str, object], limits: TransformLimits) -> _Paths:
    raw = document.get("drop", [])
    if not isinstance(raw, list):
        raise TransformError(("drop",), "must be an array of dotted paths")
    if len(raw) > limits.max_paths:
        raise TransformError(("drop",), f"more than {limits.max_paths} paths")
    return tuple(_compile_path(item, ("drop", str(i))) for i, item in enumerate(raw))


def _compile_rename(document: dict[str, object], limits: TransformLimits) -> _Moves:
    raw = _object_field(document, "rename")
    if len(raw) > limits.max_paths:
        raise TransformError(("rename",), f"more than {limits.max_paths} paths")
    return tuple(
        (source, _compile_path(source, ("rename", source)), _compile_path(to, ("rename", source)))
        for source, to in raw.items()
    )


def _compile_headers(
    document: dict[str, object], limits: TransformLimits
) -> tuple[dict[str, str], _Expressions]:
    static = _object_field(document, "headers")
    dynamic = _object_field(document, "headerExpressions")
    if len(static) + len(dynamic) > MAX_HEADERS:
        raise TransformError(("headers",), f"more than {MAX_HEADERS} headers in all")
    seen: set[str] = set()
    headers: dict[str, str] = {}
    for name, value in static.items():
        path = ("headers", name)
        _check_header_name(name, path, seen)
        if not isinstance(value, str):
            raise TransformError(path, "header value must be a string")
        problem = _header_value_problem(value)
        if problem:
            raise TransformError(path, problem)
        headers[name] = value
    expressions: list[tuple[str, ParsedResult]] = []
    for name, text in dynamic.items():
        path = ("headerExpressions", name)
        _check_header_name(name, path, seen)
        expressions.append((name, _compile_expression(text, path, limits)))
    return headers, tuple(expressions)


def compile_transformation(
    document: object, limits: TransformLimits = DEFAULT_LIMITS
) -> Transformation:
    """Check a document (at save time) and prepare it to run: raises ``TransformError``."""
    if not isinstance(document, dict):
        raise TransformError((), "a transformation must be a JSON object")
    for field in document:
        if field not in _FIELDS:
            raise TransformError((str(field),), f"unknown field; expected one of {_FIELDS}")
    body = None
    if "body" in document:
        body = _compile_expression(document["body"], ("body",), limits)
    drop = _compile_drop(document, limits)
    rename = _compile_rename(document, limits)
    headers, expressions = _compile_headers(document, limits)
    # A copy of the known fields, so later changes to ``document`` change nothing here.
    normal: dict[str, object] = {
        field: orjson.loads(orjson.dumps(document[field])) for field in _FIELDS if field in document
    }
    return Transformation(normal, body, drop, rename, headers, expressions, limits)


@functools.lru_cache(maxsize=1024)
def compile_cached(text: str) -> Transformation:
    """``compile_transformation`` of a stored document's JSON text, with default limits."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise TransformError((), f"not valid JSON: {error}") from None
    return compile_transformation(document)


# --- applying --------------------------------------------------------------------------


def _child(node: object, segment: _Segment) -> object:
    key, index = segment
    if isinstance(node, dict):
        return node.get(key, _MISSING)
    if isinstance(node, list) and index is not None and index < len(node):
        return node[index]
    return _MISSING


def _dotted(segments: tuple[_Segment, ...]) -> str:
    return ".".join(key for key, _ in segments) or "the payload"


class _Editor:
    """Drops and moves fields of a result without changing any object it shares with
    the payload or with itself: containers on an edited path are copied once."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self._owned: list[object] = []  # keeps the copies alive so their ids stay theirs
        self._owned_ids: set[int] = set()

    def _own(self, container: Any) -> Any:
        if id(container) in self._owned_ids:
            return container
        copy = dict(container) if isinstance(container, dict) else list(container)
        self._owned.append(copy)
        self._owned_ids.add(id(copy))
        return copy

    def _writable(self, segments: tuple[_Segment, ...]) -> Any:
        """The container at ``segments`` (which must exist), made safe to change."""
        node = self.root = self._own(self.root)
        for key, index in segments:
            child = _child(node, (key, index))
            copy = self._own(child)
            if copy is not child:
                node[key if isinstance(node, dict) else index] = copy
            node = copy
        return node

    def pop(self, segments: tuple[_Segment, ...]) -> object:
        """Remove and return the value at ``segments``, or ``_MISSING``."""
        parent = self.root
        for segment in segments[:-1]:
            parent = _child(parent, segment)
        value = _child(parent, segments[-1])
        if value is not _MISSING:
            key, index = segments[-1]
            writable = self._writable(segments[:-1])
            del writable[key if isinstance(writable, dict) else index]
        return value

    def put(self, segments: tuple[_Segment, ...], value: object) -> None:
        """Set the value at ``segments``, creating missing objects on the way."""
        if not isinstance(self.root, (dict, list)):
            raise _EvalError("cannot write into the payload: it is not an object")
        node = self.root = self._own(self.root)
        for depth, segment in enumerate(segments):
            key, index = segment
            if isinstance(node, list) and (index is None or index >= len(node)):
                raise _EvalError(f"{_dotted(segments[:depth])} has no element {key}")
            slot = key if isinstance(node, dict) else index
            if depth == len(segments) - 1:
                node[slot] = value
                return
            child = _child(node, segment)
            if child is _MISSING:
                child = {}
                self._owned.append(child)
                self._owned_ids.add(id(child))
            elif isinstance(child, (dict, list)):
                child = self._own(child)
            else:
                where = _dotted(segments[: depth + 1])
                raise _EvalError(f"cannot write into {where}: it is not an object")
            node[slot] = child
            node = child


def _render_header(value: object, path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)):
        try:
            _json_size(value, MAX_HEADER_VALUE_LENGTH)
        except _EvalError as error:
            raise TransformError(path, str(error)) from None
        text = orjson.dumps(value).decode()
    else:
        raise TransformError(path, f"the expression gives an {_json_type(value)}, not a value")
    problem = _header_value_problem(text)
    if problem:
        raise TransformError(path, problem)
    return text


def _json_type(value: object) -> str:
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "value"


class Transformation:
    """A compiled transformation document; immutable, safe to share between tasks."""

    __slots__ = ("_body", "_drop", "_expressions", "_headers", "_limits", "_rename", "document")

    def __init__(
        self,
        document: dict[str, object],
        body: ParsedResult | None,
        drop: _Paths,
        rename: _Moves,
        headers: dict[str, str],
        expressions: _Expressions,
        limits: TransformLimits,
    ) -> None:
        #: The document as given (only its known fields), JSON-able.
        self.document = document
        self._body = body
        self._drop = drop
        self._rename = rename
        self._headers = headers
        self._expressions = expressions
        self._limits = limits

    def __repr__(self) -> str:
        return f"Transformation({self.document!r})"

    @property
    def reshapes(self) -> bool:
        """Whether the body can change (``body``, ``drop`` or ``rename`` is set)."""
        return self._body is not None or bool(self._drop) or bool(self._rename)

    def apply(self, payload: object, max_cost: int | None = None) -> TransformResult:
        """Transform a payload (a JSON value); raises ``TransformError``.

        ``max_cost`` lowers the cost budget for this run: past it, ``CostExceeded``
        (so a caller can try cheaply first, and pay for the full budget elsewhere).
        """
        value, headers = self._run(payload, from_json=False, max_cost=max_cost)
        return TransformResult(body=_dumps(value), value=value, headers=headers)

    def apply_bytes(self, payload: bytes, max_cost: int | None = None) -> TransformResult:
        """Transform a JSON payload given as bytes; raises ``TransformError``.

        When the document does not reshape the body, ``body`` is ``payload`` itself,
        byte for byte. ``max_cost`` as for ``apply``.
        """
        try:
            parsed = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise TransformError((), f"the payload is not valid JSON: {error}") from None
        value, headers = self._run(parsed, from_json=True, max_cost=max_cost)
        body = _dumps(value) if self.reshapes else bytes(payload)
        return TransformResult(body=body, value=value, headers=headers)

    def _run(
        self, payload: object, *, from_json: bool, max_cost: int | None = None
    ) -> tuple[object, dict[str, str]]:
        limits = self._limits
        budget = _Budget(limits.max_cost if max_cost is None else min(max_cost, limits.max_cost))
        value = payload
        if self._body is not None:
            value = _evaluate(self._body, payload, budget, limits.max_output_bytes, ("body",))
        if self._drop or self._rename:
            value = self._edit(value)
        if self._body is not None or not from_json:
            # Only ``body`` can make the output bigger than the payload.
            try:
                _json_size(value, limits.max_output_bytes)
            except _EvalError as error:
                raise TransformError(("body",) if self._body else (), str(error)) from None
        headers = dict(self._headers)
        for name, expression in self._expressions:
            path = ("headerExpressions", name)
            result = _evaluate(expression, payload, budget, limits.max_output_bytes, path)
            text = _render_header(result, path)
            if text is not None:
                headers[name] = text
        return value, headers

    def _edit(self, value: object) -> object:
        editor = _Editor(value)
        for segments in self._drop:
            editor.pop(segments)
        for source, segments, to in self._rename:
            moved = editor.pop(segments)
            if moved is _MISSING:
                continue
            try:
                editor.put(to, moved)
            except _EvalError as error:
                raise TransformError(("rename", source), str(error)) from None
        return editor.root


def _dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        raise TransformError((), f"the output cannot be written as JSON: {error}") from None
