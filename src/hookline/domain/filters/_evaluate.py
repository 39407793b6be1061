"""Evaluating a compiled filter: paths, candidates, operators and conditions, on a budget."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

import re2

from hookline.domain.filters._limits import _Budget, _TooCostly
from hookline.domain.filters._reasons import _render

_MISSING: Final = object()
_NOTHING: Final[dict[str, object]] = {}  # the body when the payload is not an object
_REGEX_CHARS_PER_STEP = 256
_NUMBER: Final = (int, float)  # with a bool check: JSON's booleans are not numbers


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
