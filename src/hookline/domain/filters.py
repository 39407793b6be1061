"""Payload filters: which events an endpoint wants, decided from an event's body and headers.

A filter document is JSON, ``{"body": <condition>, "headers": <condition>}``; both keys
are optional, any other key is an error, and ``null``, ``""`` or ``{}`` match everything.
``body`` is tested against the event's parsed JSON payload, ``headers`` against its HTTP
headers (inbound events). A condition is a JSON object in the style of MongoDB and Convoy::

    {"data.type": "invoice.paid", "data.amount": {"$gte": 100, "$lt": 10000}}
    {"$or": [{"data.currency": {"$in": ["EUR", "USD"]}}, {"$not": {"data.test": true}}]}

Semantics, exactly:

- Several entries in one condition object are ANDed; so are several operators in one
  operator object. ``$and`` and ``$or`` take a non-empty list of conditions, ``$not`` one
  condition; they stand where a field would, at any level of nesting.
- ``{"path": value}`` means ``{"path": {"$eq": value}}``. A nested object is an operator
  object when it is non-empty and every key starts with ``$``; otherwise it is a plain
  value compared whole. The argument of ``$eq``, ``$neq``, ``$in`` and ``$nin`` is always
  a plain value (``{"$eq": {"$x": 1}}`` compares with that object).
- Body paths are dotted, ``data.customer.id``. A segment names an object key; on an array
  an all-digit segment is an index (``items.0.sku``), any other segment reaches into every
  element that is an object, and the field then has one value per element that has it
  (arrays nested directly in arrays are not entered). The body itself must be an object:
  when it is an array or a scalar, every field is missing. Header fields are whole header
  names (no dots), matched case-insensitively.
- A field's *candidates* are each of its values and, for a value that is an array, each
  of that array's elements. ``$eq``, ``$in``, ``$gt``, ``$gte``, ``$lt``, ``$lte`` and
  ``$regex`` hold when they hold for some candidate; so ``{"tags": "a"}`` matches
  ``{"tags": ["a", "b"]}`` and ``{"tags": ["a", "b"]}`` matches it too. Each operator
  picks its own candidate. A missing field has no candidates, so these operators fail.
- ``$neq``, ``$nin`` and a field's ``$not`` (which takes an operator object) are exact
  negations of ``$eq``, ``$in`` and of that operator object: a missing field satisfies
  ``$neq`` and ``$nin``. ``$exist: true|false`` tests whether the field has any value
  (``null`` is a value; ``{"x": null}`` does not match a missing ``x``).
- Equality is JSON equality: numbers compare by value (``1 == 1.0``); booleans are not
  numbers; objects compare key by key regardless of order, arrays element by element.
- ``$gt`` and friends take a number or a string and compare numbers with numbers,
  strings with strings (by code point); any other pairing is simply false.
- ``$regex`` takes an RE2 pattern (linear time, no backreferences or lookaround; flags
  inline, e.g. ``(?i)``) and searches strings only; a match anywhere counts.

Cost is bounded twice. Compiling refuses a document over ``Limits``: serialized size,
node count (every JSON value under ``body`` and ``headers`` is one node), depth (the
condition object is at depth 1, each enclosing object or array adds one), path segments,
regex length and ``$in`` items. Evaluating counts steps: one per path segment followed,
per candidate tested and per value compared inside objects and arrays, the length of each
array reached into or expanded, and one per 256 characters a regex scans. Past
``max_steps`` the evaluation stops and the filter does not match. Evaluation never raises
on a JSON payload.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import re2

from hookline.errors import ValidationError

__all__ = [
    "DEFAULT_LIMITS",
    "FilterError",
    "Limits",
    "PayloadFilter",
    "compile_cached",
    "compile_filter",
]

TOO_COSTLY: Final = "filter too costly for this payload"


class FilterError(ValidationError, ValueError):
    """A filter document is invalid; ``path`` says where: ``("body", "data.amount", "$gt")``."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(f"{' > '.join(path) or 'filter'}: {message}", field=path)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    """How large a filter may be, and how much work one evaluation may do."""

    max_nodes: int = 256
    max_depth: int = 12
    max_regex_length: int = 512
    max_in_items: int = 256
    max_document_bytes: int = 16384
    max_steps: int = 100_000
    max_path_segments: int = 32

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if getattr(self, field.name) < 1:
                raise ValueError(f"Limits.{field.name} must be at least 1")


DEFAULT_LIMITS: Final = Limits()

# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------

_MISSING: Final = object()
_NOTHING: Final[dict[str, object]] = {}  # the body when the payload is not an object
_SHOWN = 40  # characters of a value shown in a reason
_REGEX_CHARS_PER_STEP = 256
_NUMBER: Final = (int, float)  # with a bool check: JSON's booleans are not numbers


class _TooCostly(Exception):
    """The step budget ran out."""


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise _TooCostly


class _Many(list[object]):
    """The values a path found through an array, one per element that has the field."""

    __slots__ = ()


#: A test of one candidate value.
_Test = Callable[[object, _Budget], bool]
#: A path segment: its key, the array index it names (-1 unless all digits), the segments after it.
_Segment = tuple[str, int, "tuple[_Segment, ...]"]


def _lookup(value: object, path: tuple[_Segment, ...], budget: _Budget) -> object:
    """The field at ``path`` in ``value``: a value, a ``_Many`` or ``_MISSING``."""
    budget.left -= len(path)
    if budget.left < 0:
        raise _TooCostly
    for key, index, rest in path:
        if value.__class__ is dict or isinstance(value, dict):
            value = value.get(key, _MISSING)
            if value is _MISSING:
                return _MISSING
        elif isinstance(value, list):
            if index < 0:
                return _fan_out(value, key, rest, budget)
            if index >= len(value):
                return _MISSING
            value = value[index]
        else:
            return _MISSING
    return value


def _fan_out(array: list[object], key: str, rest: tuple[_Segment, ...], budget: _Budget) -> object:
    """The field at ``key`` then ``rest`` in each object of ``array``."""
    budget.spend(len(array))
    found = _Many()
    for element in array:
        if isinstance(element, dict):
            value = element.get(key, _MISSING)
            if rest and value is not _MISSING:
                value = _lookup(value, rest, budget)
            if isinstance(value, _Many):
                found.extend(value)
            elif value is not _MISSING:
                found.append(value)
    return found or _MISSING


def _some_candidate(value: object, test: _Test, budget: _Budget) -> bool:
    """Whether ``test`` holds for the value, or for an element when it is an array."""
    if value.__class__ is _Many:
        return any(_some_candidate(item, test, budget) for item in value)
    budget.left -= 1
    if budget.left < 0:
        raise _TooCostly
    if test(value, budget):
        return True
    if isinstance(value, list):
        budget.spend(len(value))
        for element in value:
            if test(element, budget):
                return True
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMBER) and value.__class__ is not bool


def _deep_equal(value: object, expected: object, budget: _Budget) -> bool:
    """JSON equality; ``expected`` comes from the filter, so recursion is bounded by its depth."""
    budget.spend()
    if isinstance(expected, bool) or expected is None:
        return value is expected
    if isinstance(expected, str):
        return isinstance(value, str) and value == expected
    if isinstance(expected, _NUMBER):
        return _is_number(value) and value == expected
    if isinstance(expected, list):
        return (
            isinstance(value, list)
            and len(value) == len(expected)
            and all(_deep_equal(v, e, budget) for v, e in zip(value, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(value, dict)
            and len(value) == len(expected)
            and all(
                key in value and _deep_equal(value[key], e, budget) for key, e in expected.items()
            )
        )
    return False


def _equal_to(expected: object) -> _Test:
    if isinstance(expected, bool) or expected is None:
        return lambda value, _budget: value is expected
    if isinstance(expected, str):
        return lambda value, _budget: isinstance(value, str) and value == expected
    if isinstance(expected, _NUMBER):
        return lambda value, _budget: (
            isinstance(value, _NUMBER) and value.__class__ is not bool and value == expected
        )
    return lambda value, budget: _deep_equal(value, expected, budget)


def _member_of(items: list[object]) -> _Test:
    strings = frozenset(item for item in items if isinstance(item, str))
    numbers = frozenset(item for item in items if _is_number(item))
    booleans = frozenset(item for item in items if isinstance(item, bool))
    null = any(item is None for item in items)
    composites = tuple(item for item in items if isinstance(item, list | dict))

    def test(value: object, budget: _Budget) -> bool:
        if isinstance(value, str):
            return value in strings
        if isinstance(value, bool):
            return value in booleans
        if isinstance(value, _NUMBER):
            return value in numbers
        if value is None:
            return null
        return any(_deep_equal(value, item, budget) for item in composites)

    return test


_ORDERINGS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def _ordered(name: str, bound: str | float) -> _Test:
    compare = _ORDERINGS[name]
    if isinstance(bound, str):
        return lambda value, _budget: isinstance(value, str) and compare(value, bound)
    return lambda value, _budget: (
        isinstance(value, _NUMBER) and value.__class__ is not bool and compare(value, bound)
    )


def _searches(pattern: re2._Regexp[str]) -> _Test:
    search = pattern.search

    def test(value: object, budget: _Budget) -> bool:
        if not isinstance(value, str):
            return False
        budget.spend(len(value) // _REGEX_CHARS_PER_STEP)
        try:
            return search(value) is not None
        except UnicodeError:  # a lone surrogate cannot be UTF-8 encoded for RE2
            return False

    return test


class _Operator:
    """One operator applied to a field's value (as ``_lookup`` found it)."""

    __slots__ = ("argument", "name")

    def __init__(self, name: str, argument: object) -> None:
        self.name = name
        self.argument = argument

    def holds(self, value: object, budget: _Budget) -> bool:
        raise NotImplementedError

    def reason(self, label: str, value: object) -> str:
        shown = "missing" if value is _MISSING else _show_value(value)
        return f"{label} is {shown}, which is not {self.name} {_render(self.argument)}"


class _Compare(_Operator):
    __slots__ = ("negated", "test")

    def __init__(self, name: str, argument: object, test: _Test, *, negated: bool) -> None:
        super().__init__(name, argument)
        self.test = test
        self.negated = negated

    def holds(self, value: object, budget: _Budget) -> bool:
        if value is _MISSING:
            return self.negated
        return _some_candidate(value, self.test, budget) != self.negated

    def reason(self, label: str, value: object) -> str:
        if value is _MISSING:
            return f"{label} is missing"
        return super().reason(label, value)


class _Exist(_Operator):
    __slots__ = ()

    def holds(self, value: object, budget: _Budget) -> bool:
        return (value is not _MISSING) == self.argument

    def reason(self, label: str, value: object) -> str:
        if value is _MISSING:
            return f"{label} is missing"
        return super().reason(label, value)


class _NotOperators(_Operator):
    __slots__ = ("operators",)

    def __init__(self, argument: object, operators: tuple[_Operator, ...]) -> None:
        super().__init__("$not", argument)
        self.operators = operators

    def holds(self, value: object, budget: _Budget) -> bool:
        return not all(op.holds(value, budget) for op in self.operators)


class _Node:
    """A condition. ``why`` gives the reason it fails, or None; it costs what ``holds`` does."""

    __slots__ = ()

    def holds(self, root: object, budget: _Budget) -> bool:
        raise NotImplementedError

    def why(self, root: object, budget: _Budget) -> str | None:
        raise NotImplementedError


class _Field(_Node):
    __slots__ = ("label", "operators", "path")

    def __init__(
        self, label: str, path: tuple[_Segment, ...], operators: tuple[_Operator, ...]
    ) -> None:
        self.label = label
        self.path = path
        self.operators = operators

    def holds(self, root: object, budget: _Budget) -> bool:
        value = _lookup(root, self.path, budget)
        for op in self.operators:  # noqa: SIM110 - hot path: a loop is ~3x faster than all()/any() on a generator
            if not op.holds(value, budget):
                return False
        return True

    def why(self, root: object, budget: _Budget) -> str | None:
        value = _lookup(root, self.path, budget)
        for op in self.operators:
            if not op.holds(value, budget):
                return op.reason(self.label, value)
        return None


class _AllOf(_Node):
    __slots__ = ("parts",)

    def __init__(self, parts: tuple[_Node, ...]) -> None:
        self.parts = parts

    def holds(self, root: object, budget: _Budget) -> bool:
        for part in self.parts:  # noqa: SIM110 - hot path: a loop is ~3x faster than all()/any() on a generator
            if not part.holds(root, budget):
                return False
        return True

    def why(self, root: object, budget: _Budget) -> str | None:
        for part in self.parts:
            reason = part.why(root, budget)
            if reason is not None:
                return reason
        return None


class _AnyOf(_Node):
    __slots__ = ("parts",)

    def __init__(self, parts: tuple[_Node, ...]) -> None:
        self.parts = parts

    def holds(self, root: object, budget: _Budget) -> bool:
        for part in self.parts:  # noqa: SIM110 - hot path: a loop is ~3x faster than all()/any() on a generator
            if part.holds(root, budget):
                return True
        return False

    def why(self, root: object, budget: _Budget) -> str | None:
        first = None
        for part in self.parts:
            reason = part.why(root, budget)
            if reason is None:
                return None
            first = first or reason
        return f"no $or alternative held (first: {first})"


class _Not(_Node):
    __slots__ = ("document", "part")

    def __init__(self, part: _Node, document: object) -> None:
        self.part = part
        self.document = document

    def holds(self, root: object, budget: _Budget) -> bool:
        return not self.part.holds(root, budget)

    def why(self, root: object, budget: _Budget) -> str | None:
        if self.part.holds(root, budget):
            return f"the condition under $not holds: {_render(self.document)}"
        return None


def _show_value(value: object) -> str:
    if isinstance(value, _Many):
        return f"{_render(value)} (one per array element)"
    return _render(value)


def _render(value: object) -> str:
    """Compact JSON for a reason, cut to about 40 characters; never raises, never walks far."""
    parts: list[str] = []
    _render_into(value, parts, _SHOWN + 1)
    text = "".join(parts)
    text = text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates


def _render_into(value: object, parts: list[str], room: int) -> int:
    if room <= 0:
        return room
    if isinstance(value, str):
        piece = json.dumps(value[:room], ensure_ascii=False)
    elif value is None or isinstance(value, bool):
        piece = json.dumps(value)
    elif isinstance(value, int):
        piece = str(value) if value.bit_length() <= 1000 else f"<{value.bit_length()}-bit integer>"
    elif isinstance(value, float):
        piece = repr(value)
    elif isinstance(value, list | dict):
        return _render_container(value, parts, room)
    else:
        piece = f"<{type(value).__name__}>"
    parts.append(piece)
    return room - len(piece)


def _render_container(value: list[object] | dict[Any, object], parts: list[str], room: int) -> int:
    is_list = isinstance(value, list)
    parts.append("[" if is_list else "{")
    room -= 1
    entries = enumerate(value) if isinstance(value, list) else value.items()
    for position, (key, item) in enumerate(entries):
        if room <= 0:
            return room
        if position:
            parts.append(", ")
            room -= 2
        if not is_list:
            room = _render_into(str(key), parts, room)
            parts.append(": ")
            room -= 2
        room = _render_into(item, parts, room)
    parts.append("]" if is_list else "}")
    return room - 1


# ---------------------------------------------------------------------------------------
# The public face
# ---------------------------------------------------------------------------------------


class PayloadFilter:
    """A compiled filter; build one with ``compile_filter`` or ``compile_cached``.

    ``document`` is the filter as JSON (shared by the cache: do not mutate it).
    """

    __slots__ = ("_body", "_headers", "_max_steps", "document")

    def __init__(
        self, document: object, body: _Node | None, headers: _Node | None, max_steps: int
    ) -> None:
        self.document = document
        self._body = body
        self._headers = headers
        self._max_steps = max_steps

    def matches(self, body: object, headers: Mapping[str, str] | None = None) -> bool:
        """Whether an event with this payload (parsed JSON) and these headers passes."""
        if self._body is None and self._headers is None:
            return True
        budget = _Budget(self._max_steps)
        try:
            if self._body is not None and not self._body.holds(_root(body), budget):
                return False
            return self._headers is None or self._headers.holds(_header_map(headers), budget)
        except _TooCostly:
            return False

    def explain(self, body: object, headers: Mapping[str, str] | None = None) -> str | None:
        """None when ``matches`` is true, else why not: the first failing condition."""
        if self._body is None and self._headers is None:
            return None
        budget = _Budget(self._max_steps)
        try:
            reason = None if self._body is None else self._body.why(_root(body), budget)
            if reason is None and self._headers is not None:
                reason = self._headers.why(_header_map(headers), budget)
        except _TooCostly:
            return TOO_COSTLY
        return reason

    def __repr__(self) -> str:
        return f"PayloadFilter({_render(self.document)})"


def _root(body: object) -> object:
    return body if isinstance(body, dict) else _NOTHING


def _header_map(headers: Mapping[str, str] | None) -> dict[str, object]:
    if not headers:
        return _NOTHING
    return {name.lower(): value for name, value in headers.items()}


def compile_filter(document: object, limits: Limits = DEFAULT_LIMITS) -> PayloadFilter:
    """Validate a filter document in full and compile it; raise ``FilterError`` at the fault."""
    if document is None:
        return PayloadFilter(None, None, None, limits.max_steps)
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except RecursionError:
        raise FilterError((), "the filter is nested too deeply") from None
    except (TypeError, ValueError) as error:
        raise FilterError((), f"a filter must be JSON ({error})") from None
    return _compile_text(text, limits)


@functools.lru_cache(maxsize=1024)
def compile_cached(text: str) -> PayloadFilter:
    """``compile_filter`` for the stored JSON text of a filter, with default limits, cached."""
    return _compile_text(text, DEFAULT_LIMITS)


def _compile_text(text: str, limits: Limits) -> PayloadFilter:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_document_bytes:
        message = f"the filter is {size} bytes, over the limit of {limits.max_document_bytes}"
        raise FilterError((), message)
    if not text.strip():
        return PayloadFilter(None, None, None, limits.max_steps)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise FilterError((), "the filter is nested too deeply") from None
    except ValueError as error:
        raise FilterError((), f"the filter is not valid JSON ({error})") from None
    return _build(document, limits)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _build(document: object, limits: Limits) -> PayloadFilter:
    if document is None:
        return PayloadFilter(None, None, None, limits.max_steps)
    if not isinstance(document, dict):
        message = f"a filter must be an object with 'body' and/or 'headers', not {_kind(document)}"
        raise FilterError((), message)
    for key in document:
        if key not in {"body", "headers"}:
            raise FilterError((key,), "unknown key; a filter has only 'body' and 'headers'")
    compiler = _Compiler(limits)
    body = compiler.section(document, "body")
    headers = compiler.section(document, "headers")
    return PayloadFilter(document, body, headers, limits.max_steps)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


# ---------------------------------------------------------------------------------------
# Compilation
# ---------------------------------------------------------------------------------------

_Path = tuple[str, ...]
_FIELD_OPERATORS: Final = (
    "$eq",
    "$neq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exist",
    "$regex",
    "$not",
)
_SPELLINGS: Final = {"$ne": "$neq", "$exists": "$exist"}  # MongoDB's names, for a hint


def _is_operator_object(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and all(key.startswith("$") for key in value)


class _Compiler:
    """Checks a document against the limits while building its node tree."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.nodes = 0
        self.headers = False
        options = re2.Options()
        options.log_errors = False
        options.never_capture = True
        self.regex_options = options

    def section(self, document: dict[str, object], name: str) -> _Node | None:
        if name not in document:
            return None
        self.headers = name == "headers"
        node = self.condition(document[name], (name,), 1)
        return None if isinstance(node, _AllOf) and not node.parts else node

    def count(self, where: _Path, depth: int) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise FilterError(where, f"the filter has more than {self.limits.max_nodes} nodes")
        if depth > self.limits.max_depth:
            raise FilterError(where, f"the filter nests deeper than {self.limits.max_depth} levels")

    def literal(self, value: object, where: _Path, depth: int) -> None:
        self.count(where, depth)
        if isinstance(value, list):
            for position, item in enumerate(value):
                self.literal(item, (*where, str(position)), depth + 1)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.literal(item, (*where, key), depth + 1)

    def condition(self, spec: object, where: _Path, depth: int) -> _Node:
        self.count(where, depth)
        if not isinstance(spec, dict):
            raise FilterError(where, f"a condition must be an object, not {_kind(spec)}")
        parts: list[_Node] = []
        for key, value in spec.items():
            at = (*where, key)
            if key in {"$and", "$or"}:
                parts.append(self.logical(key, value, at, depth + 1))
            elif key == "$not":
                parts.append(_Not(self.condition(value, at, depth + 1), value))
            elif key in _FIELD_OPERATORS:
                message = f'{key} applies to a field: write {{"<field>": {{"{key}": ...}}}}'
                raise FilterError(at, message)
            elif key.startswith("$"):
                raise FilterError(at, f"unknown operator {key}; use $and, $or, $not or a field")
            else:
                parts.append(self.field(key, value, at, depth + 1))
        return parts[0] if len(parts) == 1 else _AllOf(tuple(parts))

    def logical(self, name: str, value: object, where: _Path, depth: int) -> _Node:
        self.count(where, depth)
        if not isinstance(value, list) or not value:
            raise FilterError(where, f"{name} takes a non-empty list of conditions")
        parts = tuple(
            self.condition(item, (*where, str(position)), depth + 1)
            for position, item in enumerate(value)
        )
        return _AllOf(parts) if name == "$and" else _AnyOf(parts)

    def field(self, key: str, value: object, where: _Path, depth: int) -> _Node:
        path = self.path(key, where)
        label = f"{'headers' if self.headers else 'body'}.{key.lower() if self.headers else key}"
        if isinstance(value, dict) and _is_operator_object(value):
            self.count(where, depth)
            return _Field(label, path, self.operators(value, where, depth + 1))
        self.literal(value, where, depth)
        return _Field(label, path, (_Compare("$eq", value, _equal_to(value), negated=False),))

    def path(self, key: str, where: _Path) -> tuple[_Segment, ...]:
        if self.headers:
            if not key:
                raise FilterError(where, "a header name must not be empty")
            return ((key.lower(), -1, ()),)
        segments = key.split(".")
        if "" in segments:
            raise FilterError(where, "a field path must not have an empty segment")
        if len(segments) > self.limits.max_path_segments:
            limit = self.limits.max_path_segments
            raise FilterError(where, f"a field path has more than {limit} segments")
        path: tuple[_Segment, ...] = ()
        for part in reversed(segments):
            index = int(part) if part.isascii() and part.isdigit() and len(part) < 10 else -1
            path = ((part, index, path), *path)
        return path

    def operators(self, spec: dict[str, object], where: _Path, depth: int) -> tuple[_Operator, ...]:
        return tuple(self.operator(name, arg, (*where, name), depth) for name, arg in spec.items())

    def operator(self, name: str, arg: object, where: _Path, depth: int) -> _Operator:
        if name in {"$eq", "$neq"}:
            self.literal(arg, where, depth)
            return _Compare(name, arg, _equal_to(arg), negated=name == "$neq")
        if name in {"$in", "$nin"}:
            return self.membership(name, arg, where, depth)
        self.count(where, depth)
        if name in _ORDERINGS:
            if isinstance(arg, bool) or not isinstance(arg, str | int | float):
                raise FilterError(where, f"{name} takes a number or a string, not {_kind(arg)}")
            return _Compare(name, arg, _ordered(name, arg), negated=False)
        if name == "$exist":
            if not isinstance(arg, bool):
                raise FilterError(where, f"$exist takes true or false, not {_kind(arg)}")
            return _Exist(name, arg)
        if name == "$regex":
            return _Compare(name, arg, _searches(self.regex(arg, where)), negated=False)
        if name == "$not":
            if not _is_operator_object(arg) or not isinstance(arg, dict):
                raise FilterError(where, 'a field\'s $not takes operators, e.g. {"$eq": 1}')
            return _NotOperators(arg, self.operators(arg, where, depth + 1))
        if name in {"$and", "$or"}:
            raise FilterError(where, f"{name} combines conditions; it cannot apply to a field")
        if name in _SPELLINGS:
            raise FilterError(where, f"unknown operator {name}; did you mean {_SPELLINGS[name]}?")
        expected = ", ".join(_FIELD_OPERATORS)
        raise FilterError(where, f"unknown operator {name}; expected one of {expected}")

    def membership(self, name: str, arg: object, where: _Path, depth: int) -> _Operator:
        self.count(where, depth)
        if not isinstance(arg, list):
            raise FilterError(where, f"{name} takes a list, not {_kind(arg)}")
        if len(arg) > self.limits.max_in_items:
            raise FilterError(where, f"{name} has more than {self.limits.max_in_items} items")
        for position, item in enumerate(arg):
            self.literal(item, (*where, str(position)), depth + 1)
        return _Compare(name, arg, _member_of(arg), negated=name == "$nin")

    def regex(self, arg: object, where: _Path) -> re2._Regexp[str]:
        if not isinstance(arg, str):
            raise FilterError(where, f"$regex takes a string, not {_kind(arg)}")
        if len(arg) > self.limits.max_regex_length:
            limit = self.limits.max_regex_length
            raise FilterError(where, f"the regex is longer than {limit} characters")
        try:
            return re2.compile(arg, self.regex_options)
        except (re2.error, UnicodeError) as error:
            detail = error.args[0] if error.args else error
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise FilterError(where, f"bad regex: {detail}") from None
