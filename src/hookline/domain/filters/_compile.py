"""Compiling a filter document: checks against the limits, then the node tree to evaluate."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Final

import re2

from hookline.domain.filters._evaluate import (
    _NOTHING,
    _ORDERINGS,
    _AllOf,
    _AnyOf,
    _Compare,
    _equal_to,
    _Exist,
    _Field,
    _is_number,
    _member_of,
    _Node,
    _Not,
    _NotOperators,
    _Operator,
    _ordered,
    _searches,
    _Segment,
)
from hookline.domain.filters._limits import (
    DEFAULT_LIMITS,
    TOO_COSTLY,
    FilterError,
    Limits,
    _Budget,
    _TooCostly,
)
from hookline.domain.filters._reasons import _render


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
