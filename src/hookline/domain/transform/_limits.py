"""A transformation's bounds, its errors, its result, the cost budget and the output-size walk."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult

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

_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")
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


def _header_value_problem(value: str) -> str | None:
    if len(value) > MAX_HEADER_VALUE_LENGTH:
        return f"header value longer than {MAX_HEADER_VALUE_LENGTH} characters"
    if _BAD_HEADER_VALUE.search(value):
        return "header value contains CR, LF or NUL"
    return None
