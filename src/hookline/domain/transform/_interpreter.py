"""JMESPath run under a budget: every node visited, element copied or compared, charged."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, cast

from jmespath import exceptions as jmes_errors
from jmespath import functions as jmes_functions
from jmespath.visitor import Options, TreeInterpreter

from hookline.domain.transform._limits import (
    _CHARS_PER_UNIT,
    _MISSING,
    CostExceeded,
    Path,
    TransformError,
    _Budget,
    _EvalError,
    _json_size,
    _OverBudget,
    _weight,
)

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult
    from jmespath.visitor import _TreeNode


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
