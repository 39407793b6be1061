"""Compiling a transformation document: every check made at save time, then a ``Transformation``."""

from __future__ import annotations

import functools
import re
import warnings
from typing import TYPE_CHECKING, Final, cast

import jmespath
import orjson
from jmespath import exceptions as jmes_errors

from hookline.domain.transform._apply import Transformation
from hookline.domain.transform._interpreter import _Functions
from hookline.domain.transform._limits import (
    DEFAULT_LIMITS,
    MAX_HEADER_NAME_LENGTH,
    MAX_HEADERS,
    MAX_PATH_LENGTH,
    RESERVED_HEADER_PREFIXES,
    RESERVED_HEADERS,
    Path,
    TransformError,
    TransformLimits,
    _EvalError,
    _Expressions,
    _header_value_problem,
    _json_size,
    _Moves,
    _Paths,
    _Segment,
)

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult
    from jmespath.visitor import _TreeNode

_FIELDS: Final = ("body", "drop", "rename", "headers", "headerExpressions")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


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
