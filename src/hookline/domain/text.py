"""The rule for text and JSON that hookline stores, the same on every backend.

PostgreSQL's text columns cannot hold a NUL character, and no UTF-8 encoder can
write a lone UTF-16 surrogate (``"\\ud800"``, which Python's ``json`` happily
parses); SQLite would store the first and choke on the second. So a value is
refused at the edge, with the path of the first offending part, when:

- a string (a value, or an object's key) holds a lone surrogate, or a NUL where
  the field does not allow one (a message payload does: it is stored as JSON
  bytes, where a NUL is the six characters ``\\u0000`` on every backend);
- it nests deeper than ``MAX_DEPTH`` levels (the JSON encoder's own limit is
  254, and storage wraps values in a few levels of its own: audit snapshots,
  the recorder's rows);
- a number would not come back as sent (``NaN``, ``Infinity``, ``1e400``, an
  integer beyond 64 bits);
- an object names one key twice (``parse_json`` keeps them apart to say so).

Pure: no I/O; every face (the API, the web forms, the CLI) calls it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: How deep a request body may nest, counting the body itself as level 1: what
#: serde_json, the parser of Svix's own server, accepts by default.
MAX_DEPTH = 128
#: The integers JSON keeps exactly here (orjson writes 64-bit integers, signed or not).
_SMALLEST_INT = -(2**63)
_LARGEST_INT = 2**64 - 1

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Offence:
    """Where a value breaks the rule (``path`` from its root) and why, in words for a client."""

    path: Path
    reason: str


class JsonObject(dict[str, Any]):
    """A parsed JSON object that also remembers the first key it named twice."""

    __slots__ = ("repeated_key",)

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        super().__init__()
        self.repeated_key: str | None = None
        for key, item in pairs:
            if key in self and self.repeated_key is None:
                self.repeated_key = key
            self[key] = item


class TooDeep(ValueError):
    """A JSON text nests deeper than the parser can follow."""


def parse_json(text: bytes | str) -> Any:
    """Parse JSON text keeping what the rule must see: repeated keys (``JsonObject``),
    ``NaN`` and ``Infinity`` (as floats), lone surrogates (as they are).

    Raises ``json.JSONDecodeError`` for text that is not JSON, ``TooDeep`` for text
    nested past the interpreter's recursion limit.
    """
    try:
        return json.loads(text, object_pairs_hook=JsonObject)
    except RecursionError:
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels") from None


def text_problem(text: str, *, nul_allowed: bool = False) -> str | None:
    """Why ``text`` cannot be stored alike on every backend, or None if it can."""
    if not nul_allowed and "\x00" in text:
        return "must not contain a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone UTF-16 surrogate (\\ud800-\\udfff)"
    return None


def shown_key(key: str) -> str:
    """A key fit to name in an answer: the characters the rule refuses replaced by U+FFFD."""
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in key)


def first_offence(
    value: Any,
    *,
    max_depth: int = MAX_DEPTH,
    nul_allowed_under: frozenset[Path] = frozenset(),
    path: Path = (),
) -> Offence | None:
    """The first part of ``value`` (parsed JSON) that breaks the rule, or None.

    ``nul_allowed_under``: paths (from ``value``'s root) below which a NUL is fine,
    such as ``("payload",)``; the keys there may repeat too (a payload is data: the
    last one wins, as in every JSON parser). ``path`` is where ``value`` sits,
    prefixed to answers; ``max_depth`` counts ``value`` itself as level 1.
    """
    # A quick pass says whether anything is wrong (the publish path pays only this);
    # a slower one, building paths, finds where.
    if _clean(value, 1, max_depth, () in nul_allowed_under, nul_allowed_under):
        return None
    return _locate(value, max_depth, nul_allowed_under, path)


def _clean(item: Any, depth: int, max_depth: int, lax: bool, zones: frozenset[Path]) -> bool:
    """True if ``item`` keeps the rule. Recursive, but never deeper than ``max_depth``.

    ``lax``: NULs and repeated keys are fine here; ``zones``: paths below ``item``
    where they become fine.
    """
    kind = type(item)
    if kind is str:
        return text_problem(item, nul_allowed=lax) is None
    if kind is dict or kind is JsonObject:
        return _clean_object(item, depth, max_depth, lax, zones)
    if kind is list or kind is tuple:
        if depth > max_depth:
            return False
        # Zones name object keys only: none lies below a list.
        return all(_clean(child, depth + 1, max_depth, lax, frozenset()) for child in item)
    return _number_problem(item) is None


def _clean_object(
    item: dict[Any, Any], depth: int, max_depth: int, lax: bool, zones: frozenset[Path]
) -> bool:
    if depth > max_depth or (not lax and getattr(item, "repeated_key", None) is not None):
        return False
    for key, child in item.items():
        if type(key) is not str or text_problem(key, nul_allowed=lax) is not None:
            return False
        inner = frozenset(z[1:] for z in zones if z and z[0] == key) if zones else zones
        if not _clean(child, depth + 1, max_depth, lax or () in inner, inner):
            return False
    return True


def _number_problem(item: Any) -> str | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int) and not _SMALLEST_INT <= item <= _LARGEST_INT:
        return "is an integer too large to keep exactly (64 bits at most)"
    if isinstance(item, float) and not math.isfinite(item):
        return "must be a finite number (not NaN, Infinity or 1e400)"
    return None


def _locate(value: Any, max_depth: int, zones: frozenset[Path], root: Path) -> Offence | None:
    """Where the first offence in reading order is (iterative: any depth is safe here)."""
    stack: list[tuple[Any, Path, Path, int, bool]] = [(value, root, (), 1, () in zones)]
    while stack:
        item, where, relative, depth, lax = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item, nul_allowed=lax)
            if problem is not None:
                return Offence(where, problem)
        elif isinstance(item, dict | list | tuple):
            if depth > max_depth:
                return Offence(where, f"nests deeper than {max_depth} levels")
            children = _children(item, where, lax)
            if isinstance(children, Offence):
                return children
            # Reversed onto the stack, so the first offence in reading order comes first.
            for child, step in reversed(children):
                inner = (*relative, step)
                stack.append((child, (*where, step), inner, depth + 1, lax or inner in zones))
        else:
            problem = _number_problem(item)
            if problem is not None:
                return Offence(where, problem)
    return None


def _children(
    item: dict[Any, Any] | list[Any] | tuple[Any, ...], where: Path, lax: bool
) -> list[tuple[Any, str | int]] | Offence:
    if not isinstance(item, dict):
        return list(zip(item, range(len(item)), strict=True))
    repeated = getattr(item, "repeated_key", None)
    if repeated is not None and not lax:
        return Offence((*where, shown_key(repeated)), "is a key given twice in one object")
    children: list[tuple[Any, str | int]] = []
    for key, child in item.items():
        problem = text_problem(key, nul_allowed=lax) if isinstance(key, str) else "is not text"
        if problem is not None:
            return Offence((*where, shown_key(str(key))), f"is a key that {problem}")
        children.append((child, key))
    return children
